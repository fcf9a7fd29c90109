"""A copy of a download written by a helper thread.

The request thread only hands each chunk over and goes on sending it; the file write
(which releases the GIL) runs beside it. The copy's md5 is checked once the client has
every byte, as for a kernel copy, so the check never slows the download. The queue holds
at most QUEUE_DEPTH chunks: memory stays constant, and a slow cache disk slows the
download rather than buffering it.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import BinaryIO

LOG = logging.getLogger(__name__)

QUEUE_DEPTH = 8
_END = None


class BackgroundCopy:
    def __init__(self, out: BinaryIO, image_id: str):
        self.out = out
        self.image_id = image_id
        self.written = 0
        self.failed = False  # a write error (a full disk): the copy is dropped
        self._aborted = False
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_DEPTH)
        self._thread = threading.Thread(target=self._run, name=f"cache-tee-{image_id}",
                                        daemon=True)
        self._thread.start()

    def put(self, chunk: bytes) -> None:
        if not self.failed:
            self._queue.put(chunk)

    def finish(self, complete: bool) -> None:
        """Wait for the helper; an incomplete download skips what is still queued."""
        self._aborted = not complete
        self._queue.put(_END)
        self._thread.join()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not _END:
            if self.failed or self._aborted:
                continue  # drain, so put() never blocks on a copy that is dropped
            try:
                self.out.write(chunk)
            except OSError as exc:  # full disk: keep serving, drop the copy
                self.failed = True
                LOG.warning("cache write failed for %s: %s", self.image_id, exc)
                continue
            except Exception:  # noqa: BLE001 - dying here would block put() for good
                self.failed = True
                LOG.exception("cache write failed for %s", self.image_id)
                continue
            self.written += len(chunk)
