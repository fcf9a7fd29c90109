"""Filling the cache: a first full download's data copied in, and committed only if exact.

Data that is a local file (the filesystem store) is sent with sendfile while a helper
thread copies it in the kernel (copy_file_range) and then checks the copy; other data is
teed on its way to the client, a helper thread writing the copy (background_copy.py) that
is checked once the client has it all. A copy is committed (renamed into place, then
recorded) only when its size and md5 match the image; a write error while filling (a full
disk) drops the copy, never the download.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from typing import Callable, Iterator

import peewee

from glancelab.cache.background_copy import BackgroundCopy
from glancelab.cache.files import CacheFiles, kernel_copy, md5_matches, md5_of
from glancelab.cache.index import CacheIndex
from glancelab.cache.models import cache_database
from glancelab.cache.nodes import NodeIndex
from glancelab.db import database
from glancelab.stores.base import ReadHandle

LOG = logging.getLogger(__name__)


class CacheFill:
    def __init__(self, files: CacheFiles, index: CacheIndex, nodes: NodeIndex | None,
                 unusable: Callable[[Exception], None]):
        self.files = files
        self.index = index
        self.nodes = nodes
        self.unusable = unusable  # says (once a minute) that the cache cannot be used
        self._filling: set[str] = set()  # images this process is copying in now
        self._filling_lock = threading.Lock()

    def while_serving(self, image_id: str, size: int | None, checksum: str | None,
                      handle: ReadHandle) -> ReadHandle:
        """The handle to send for a first full download, filling the cache on the way.

        A local file stays a file (sendfile) and a thread copies it beside the request;
        anything else is teed."""
        if handle.file is not None and size is not None:
            if self._claim(image_id):
                source = os.dup(handle.file.fileno())  # its own lifetime; pread-style copy
                try:
                    # Made before the answer starts: a download right after it sees the copy
                    # under way (open_cached waits for it) even if this thread is slow to run.
                    out = open(self.files.temp_path(image_id), "wb")
                except OSError as exc:
                    os.close(source)
                    self._release(image_id)
                    LOG.warning("not caching %s: %s", image_id, exc)
                    return handle
                threading.Thread(target=self._copy_in_thread,
                                 args=(image_id, size, checksum, source, out),
                                 name=f"cache-fill-{image_id}", daemon=True).start()
            return handle
        return ReadHandle(length=handle.length,
                          chunks=self.tee(image_id, size, checksum, handle.iter_chunks()))

    def now(self, image_id: str, size: int | None, checksum: str | None,
            handle: ReadHandle) -> None:
        """Cache the handle's data now (the prefetcher's way), by kernel copy if a file."""
        if handle.file is not None and size is not None:
            if self._claim(image_id):
                source = os.dup(handle.file.fileno())
                handle.close()
                self._copy_in(image_id, size, checksum, source)
            else:
                handle.close()
            return
        for _ in self.tee(image_id, size, checksum, handle.iter_chunks()):
            pass

    def tee(self, image_id: str, size: int | None, checksum: str | None,
            chunks: Iterator[bytes]) -> Iterator[bytes]:
        """Pass chunks through while writing a copy; commit it only if it is exact."""
        temp = self.files.temp_path(image_id)
        try:
            out = open(temp, "wb")
        except OSError as exc:
            LOG.warning("not caching %s: %s", image_id, exc)
            yield from chunks
            return
        copy = BackgroundCopy(out, image_id)
        complete = False
        try:
            for chunk in chunks:
                copy.put(chunk)
                yield chunk
            complete = True
        finally:
            copy.finish(complete)
            with contextlib.suppress(OSError):
                out.close()
            # The client has every byte by now: checking the copy costs it nothing.
            if not (complete and not copy.failed and copy.written == size
                    and md5_matches(temp, checksum)
                    and self._commit(image_id, temp, size, checksum)):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp)

    def _claim(self, image_id: str) -> bool:
        with self._filling_lock:
            if image_id in self._filling:
                return False  # one copy per process at a time is enough
            self._filling.add(image_id)
            return True

    def _release(self, image_id: str) -> None:
        with self._filling_lock:
            self._filling.discard(image_id)

    def _copy_in_thread(self, image_id: str, size: int, checksum: str | None,
                        source: int, out) -> None:
        try:
            self._copy_in(image_id, size, checksum, source, out)
        finally:
            # This thread's own connections (the cache's SQLite, the node index's
            # database) end with it, not whenever the garbage collector gets to them.
            for db in (cache_database, database):
                with contextlib.suppress(Exception):
                    db.close()

    def _copy_in(self, image_id: str, size: int, checksum: str | None, source: int,
                 out=None) -> None:
        """Copy `size` bytes of the open fd `source` from offset 0 (into `out`, an open
        temp file, or a new one), check, commit; closes both."""
        temp = out.name if out is not None else self.files.temp_path(image_id)
        committed = False
        try:
            with (out if out is not None else open(temp, "wb")) as target:
                copied = kernel_copy(source, target.fileno(), size)
            if copied == size and md5_of(temp) == checksum:
                committed = self._commit(image_id, temp, size, checksum)
            elif copied == size:
                LOG.warning("not caching %s: the copy does not match its checksum", image_id)
        except OSError as exc:  # full disk, unreadable store file: drop the copy
            LOG.warning("not caching %s: %s", image_id, exc)
        except Exception:  # noqa: BLE001 - a helper thread: never let it die silently
            LOG.exception("caching %s failed", image_id)
        finally:
            os.close(source)
            if not committed:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp)
            self._release(image_id)

    def _commit(self, image_id: str, temp: str, size: int, checksum: str | None) -> bool:
        target = self.files.path_of(image_id)
        try:
            with open(temp, "rb") as handle:
                os.fsync(handle.fileno())
            os.rename(temp, target)  # atomic: another worker's identical copy is replaced whole
            stat = os.stat(target)
        except OSError as exc:
            LOG.warning("could not commit cached %s: %s", image_id, exc)
            return False
        try:
            self.index.record(image_id, size, checksum, stat)
        except peewee.DatabaseError as exc:  # unrecorded, the copy is never served: drop it
            self.unusable(exc)
            with contextlib.suppress(OSError):
                os.unlink(target)
            return False
        if self.nodes is not None:
            self.nodes.holds(image_id)
        LOG.info("image cached", extra={"image_id": image_id, "size": size})
        return True
