"""The cache tee's helper thread: it writes every chunk in order, and a copy that fails
or is abandoned never blocks the download that feeds it."""

from __future__ import annotations

import io
import threading

from glancelab.cache.background_copy import QUEUE_DEPTH, BackgroundCopy


class FullDisk(io.RawIOBase):
    def writable(self):
        return True

    def write(self, data):
        raise OSError(28, "No space left on device")


def feed(copy: BackgroundCopy, chunks: list[bytes]) -> bool:
    """Put every chunk from another thread; True if that finished within 10 s."""
    def put_all():
        for chunk in chunks:
            copy.put(chunk)
    feeder = threading.Thread(target=put_all, daemon=True)
    feeder.start()
    feeder.join(10)
    return not feeder.is_alive()


def test_every_chunk_is_written_in_order():
    out = io.BytesIO()
    copy = BackgroundCopy(out, "image")
    chunks = [bytes([n]) * 1000 for n in range(QUEUE_DEPTH * 5)]
    assert feed(copy, chunks)
    copy.finish(complete=True)
    assert out.getvalue() == b"".join(chunks)
    assert copy.written == len(out.getvalue()) and not copy.failed


def test_a_failing_disk_drops_the_copy_and_never_blocks_the_download():
    copy = BackgroundCopy(FullDisk(), "image")
    assert feed(copy, [b"x" * 1024] * (QUEUE_DEPTH * 10))
    copy.finish(complete=True)
    assert copy.failed and copy.written == 0


def test_an_abandoned_download_skips_what_is_still_queued():
    release = threading.Event()

    class SlowDisk(io.BytesIO):
        def write(self, data):
            release.wait(10)
            return super().write(data)

    out = SlowDisk()
    copy = BackgroundCopy(out, "image")
    assert feed(copy, [b"y" * 10] * QUEUE_DEPTH)  # the first is being written, the rest wait
    finisher = threading.Thread(target=copy.finish, args=(False,))
    finisher.start()
    release.set()
    finisher.join(10)
    assert not finisher.is_alive()
    assert copy.written < QUEUE_DEPTH * 10  # what waited was dropped, not written
