"""The image cache: image data kept on this node's disk after a first download.

The first full download of an active image fills incomplete/, and the copy is committed
(renamed into place) only when its size and md5 match the image; later downloads are
served from the file with sendfile. Data that is a local file (the filesystem store) is
sent with sendfile while a helper thread copies it in the kernel (copy_file_range) and
then checks the copy; other data is teed on its way to the client, a helper thread
writing the copy (background_copy.py) that is checked once the client has it all. A
cache file that changed since it was committed (size, inode or mtime) is dropped, never
served; a write error while filling (a full disk) drops the copy, never the download.
"""

from __future__ import annotations

import logging
import os
import time

import peewee

from glancelab.cache import housekeeping
from glancelab.cache.files import CacheFiles, is_entry_name
from glancelab.cache.filling import CacheFill
from glancelab.cache.index import CacheIndex, entry_view
from glancelab.cache.models import CachedImage
from glancelab.cache.nodes import NodeIndex
from glancelab.conf import Config
from glancelab.stores.base import ReadHandle

LOG = logging.getLogger(__name__)
# A download waits for a copy being finished on this node (open_cached) when it lacks at
# most FINISH_NEAR bytes, for at most FINISH_WAIT_BASE s plus the time to check its md5.
FINISH_NEAR = 64 * 1024 * 1024
FINISH_WAIT_BASE = 1.0
FINISH_CHECK_RATE = 100 * 1024 * 1024


class ImageCache:
    """One node's cache, as the rest of the service sees it: serving a copy, filling one
    (filling.py), the records (index.py), the files (files.py), prune and clean
    (housekeeping.py)."""

    def __init__(self, directory: str, max_size: int, stall_time: int,
                 nodes: NodeIndex | None = None):
        self.files = CacheFiles(directory)
        self.index = CacheIndex(self.files.directory)
        self.nodes = nodes
        self.max_size = max_size
        self.stall_time = stall_time
        self.filling = CacheFill(self.files, self.index, nodes, self._unusable)
        self._warned_at = -60.0

    @classmethod
    def from_config(cls, config: Config) -> "ImageCache | None":
        directory = config.image_cache_dir
        if not directory:
            return None
        driver = config.image_cache_driver
        if driver not in ("sqlite", "centralized_db", "xattr"):
            LOG.warning("image_cache_driver %s is unknown; glancelab keeps its cache metadata "
                        "in a per-node SQLite file", driver)
        return cls(directory,
                   max_size=config.image_cache_max_size, stall_time=config.image_cache_stall_time,
                   nodes=NodeIndex(config.self_url))

    @property
    def directory(self) -> str:
        return self.files.directory

    def prepare(self) -> None:
        self.files.prepare()

    # -- serving -------------------------------------------------------------------------------
    def open_cached(self, image_id: str, size: int | None, checksum: str | None):
        """An open file of the cached copy, or None: a changed copy is dropped, not served,
        and a cache this process cannot use (its directory unreadable) is passed by."""
        try:
            cached = self._open_cached(image_id, size, checksum)
            if cached is None and size and self._fill_finishing(image_id, size):
                cached = self._open_cached(image_id, size, checksum)
            return cached
        except (OSError, peewee.DatabaseError) as exc:
            self._unusable(exc)
            return None

    def _open_cached(self, image_id: str, size: int | None, checksum: str | None):
        entry = self.index.entry(image_id)
        if entry is None:
            return None
        try:
            handle = open(self.files.path_of(image_id), "rb")
        except FileNotFoundError:
            self.delete(image_id, "file missing")
            return None
        stat = os.fstat(handle.fileno())
        if (stat.st_size != entry.size or stat.st_ino != entry.inode
                or stat.st_mtime_ns != entry.mtime_ns or entry.size != size
                or entry.checksum != checksum):
            handle.close()
            self.delete(image_id, reason="changed since it was cached")
            return None
        self.index.hit(image_id)
        return handle

    def _fill_finishing(self, image_id: str, size: int) -> bool:
        """Wait for a copy of the image on this node that is about to be committed.

        A copy is committed once checked, just after its client has the last bytes: a
        download asked for right then would miss the cache by a moment. It waits while a
        partial copy is (nearly) whole and growing or being checked, never for one far
        from done; True once the copy is recorded."""
        now = time.monotonic()
        deadline = now + FINISH_WAIT_BASE + size / FINISH_CHECK_RATE
        grown_at, last, gone_at = now, -1, None
        while now < deadline:
            sizes = self.files.partial_sizes(image_id)
            if sizes:
                gone_at = None
                biggest = max(sizes)
                if biggest != last:
                    grown_at, last = now, biggest
                if biggest < size and (size - biggest > FINISH_NEAR or now - grown_at > 0.5):
                    return False
            elif last < 0 and not self.files.just_placed(image_id):
                return False  # no copy under way
            elif self.index.recorded(image_id):
                return True  # renamed into place and recorded
            else:  # renamed and about to be recorded, or dropped
                gone_at = gone_at or now
                if now - gone_at > 0.5:
                    return False
            time.sleep(0.01)
            now = time.monotonic()
        return False

    def _unusable(self, exc: Exception) -> None:
        """Say once a minute (not once a download) that downloads bypass the cache."""
        now = time.monotonic()
        if now - self._warned_at >= 60:
            self._warned_at = now
            LOG.warning("the image cache at %s cannot be used (%s); downloads come from the "
                        "stores until the API's user can read and write it", self.directory, exc)

    # -- filling -------------------------------------------------------------------------------
    def fill_while_serving(self, image_id: str, size: int | None, checksum: str | None,
                           handle: ReadHandle) -> ReadHandle:
        return self.filling.while_serving(image_id, size, checksum, handle)

    def fill(self, image_id: str, size: int | None, checksum: str | None,
             handle: ReadHandle) -> None:
        self.filling.now(image_id, size, checksum, handle)

    # -- management --------------------------------------------------------------------------
    def cached(self) -> list[CachedImage]:
        return self.index.cached()

    def queued(self) -> list[str]:
        return self.index.queued()

    def queue(self, image_id: str) -> None:
        self.index.queue(image_id)

    def dequeue(self, image_id: str) -> None:
        self.index.dequeue(image_id)

    def delete(self, image_id: str, reason: str = "deleted") -> bool:
        if not is_entry_name(image_id):
            return False  # not an image id: nothing of the cache's own is ever named here
        existed = self.files.remove(image_id)
        removed = self.index.forget(image_id)
        if self.nodes is not None and (existed or removed):
            self.nodes.dropped(image_id)
        if existed or removed:
            LOG.info("cache entry removed", extra={"image_id": image_id, "reason": reason})
        return bool(existed or removed)

    def clear(self, target: str) -> None:
        """target: 'cache', 'queue' or 'both' (x-image-cache-clear-target)."""
        if target in ("cache", "both"):
            for entry in self.cached():
                self.delete(entry.image_id, "cache cleared")
        if target in ("queue", "both"):
            self.index.dequeue()

    def total_size(self) -> int:
        """What the cache takes on disk: its entries and the copies still being written."""
        return sum(entry.size for entry in self.cached()) + self.files.incomplete_size()

    def recover(self, pid: int | None = None) -> list[str]:
        return self.files.remove_partials(pid)

    def maintenance(self):
        return self.files.maintenance()

    def prune(self) -> list[str]:
        return housekeeping.prune(self)

    def clean(self, verify: bool = False, now: float | None = None) -> list[str]:
        return housekeeping.clean(self, verify, now)


__all__ = ["ImageCache", "entry_view", "is_entry_name"]
