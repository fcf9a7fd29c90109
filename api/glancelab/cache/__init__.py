"""The image cache: image data kept on this node's disk after a first download.

The first full download of an active image is teed into incomplete/ and committed
(renamed into place) only when its size and md5 match the image; later downloads are
served from the file with sendfile. A cache file that changed since it was committed
(size, inode or mtime) is dropped, never served; a write error while teeing (a full
disk) drops the copy, never the download.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import logging
import os
import threading
import time
import uuid
from typing import Iterator

from glancelab.cache.models import CachedImage, QueuedImage, open_cache_database
from glancelab.cache.nodes import NodeIndex
from glancelab.conf import Config
from glancelab.db.models import utcnow

LOG = logging.getLogger(__name__)
INCOMPLETE = "incomplete"
DB_FILE = "cache.db"


class ImageCache:
    def __init__(self, directory: str, max_size: int, stall_time: int,
                 nodes: NodeIndex | None = None):
        self.directory = os.path.abspath(directory)
        self.nodes = nodes
        self.max_size = max_size
        self.stall_time = stall_time
        self.incomplete_dir = os.path.join(self.directory, INCOMPLETE)
        self._opened_in: int | None = None

    @classmethod
    def from_config(cls, config: Config) -> "ImageCache | None":
        directory = config.image_cache_dir
        if not directory:
            return None
        driver = config.image_cache_driver
        if driver not in ("sqlite", "centralized_db", "xattr"):
            LOG.warning("image_cache_driver %s is unknown; glancelab keeps its cache metadata "
                        "in a per-node SQLite file", driver)
        node_url = (config.worker_self_reference_url
                    or f"http://{config.bind_host}:{config.bind_port}")
        return cls(directory,
                   max_size=config.image_cache_max_size, stall_time=config.image_cache_stall_time,
                   nodes=NodeIndex(node_url.rstrip("/")))

    def prepare(self) -> None:
        """Make the cache's directories; run at start, not when the config is read."""
        os.makedirs(self.incomplete_dir, exist_ok=True)

    def _connect(self) -> None:
        """Bind the cache's metadata database (again after a fork: one per process)."""
        if self._opened_in != os.getpid():
            open_cache_database(os.path.join(self.directory, DB_FILE))
            self._opened_in = os.getpid()

    def path_of(self, image_id: str) -> str:
        if not is_entry_name(image_id):  # never cache.db, its WAL, incomplete/, a lock file
            raise ValueError(f"{image_id!r} does not name a cached image")
        return os.path.join(self.directory, image_id)

    # -- serving -------------------------------------------------------------------------------
    def open_cached(self, image_id: str, size: int | None, checksum: str | None):
        """An open file of the cached copy, or None (a changed copy is dropped, not served)."""
        self._connect()
        entry = CachedImage.get_or_none(CachedImage.image_id == image_id)
        if entry is None:
            return None
        try:
            handle = open(self.path_of(image_id), "rb")
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
        (CachedImage.update(hits=CachedImage.hits + 1, last_accessed=utcnow())
         .where(CachedImage.image_id == image_id).execute())
        return handle

    def tee(self, image_id: str, size: int | None, checksum: str | None,
            chunks: Iterator[bytes]) -> Iterator[bytes]:
        """Pass chunks through while writing a copy; commit it only if it is exact."""
        temp = os.path.join(self.incomplete_dir,
                            f"{image_id}.{os.getpid()}.{threading.get_ident()}")
        try:
            out = open(temp, "wb")
        except OSError as exc:
            LOG.warning("not caching %s: %s", image_id, exc)
            yield from chunks
            return
        md5 = hashlib.md5(usedforsecurity=False)
        written, writing, complete = 0, True, False
        try:
            for chunk in chunks:
                if writing:
                    try:
                        out.write(chunk)
                        md5.update(chunk)
                        written += len(chunk)
                    except OSError as exc:  # full disk: keep serving, drop the copy
                        writing = False
                        LOG.warning("cache write failed for %s: %s", image_id, exc)
                yield chunk
            complete = True
        finally:
            with contextlib.suppress(OSError):
                out.close()
            if complete and writing and written == size and md5.hexdigest() == checksum:
                self._commit(image_id, temp, size, checksum)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp)

    def _commit(self, image_id: str, temp: str, size: int, checksum: str | None) -> None:
        target = self.path_of(image_id)
        try:
            with open(temp, "rb") as handle:
                os.fsync(handle.fileno())
            os.rename(temp, target)  # atomic: another worker's identical copy is replaced whole
            stat = os.stat(target)
        except OSError as exc:
            LOG.warning("could not commit cached %s: %s", image_id, exc)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            return
        self._connect()
        now = utcnow()
        (CachedImage.insert(image_id=image_id, size=size, checksum=checksum, hits=0,
                            last_accessed=now, last_modified=now, inode=stat.st_ino,
                            mtime_ns=stat.st_mtime_ns)
         .on_conflict_replace().execute())
        QueuedImage.delete().where(QueuedImage.image_id == image_id).execute()
        if self.nodes is not None:
            self.nodes.holds(image_id)
        LOG.info("image cached", extra={"image_id": image_id, "size": size})

    # -- management --------------------------------------------------------------------------
    def cached(self) -> list[CachedImage]:
        self._connect()
        return list(CachedImage.select().order_by(CachedImage.last_accessed.desc()))

    def queued(self) -> list[str]:
        self._connect()
        return [row.image_id for row in QueuedImage.select().order_by(QueuedImage.queued_at)]

    def queue(self, image_id: str) -> None:
        self._connect()
        QueuedImage.insert(image_id=image_id).on_conflict_ignore().execute()

    def delete(self, image_id: str, reason: str = "deleted") -> bool:
        if not is_entry_name(image_id):
            return False  # not an image id: nothing of the cache's own is ever named here
        self._connect()
        existed = os.path.exists(self.path_of(image_id))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path_of(image_id))
        removed = CachedImage.delete().where(CachedImage.image_id == image_id).execute()
        if self.nodes is not None and (existed or removed):
            self.nodes.dropped(image_id)
        if existed or removed:
            LOG.info("cache entry removed", extra={"image_id": image_id, "reason": reason})
        return bool(existed or removed)

    def dequeue(self, image_id: str) -> None:
        self._connect()
        QueuedImage.delete().where(QueuedImage.image_id == image_id).execute()

    def clear(self, target: str) -> None:
        """target: 'cache', 'queue' or 'both' (x-image-cache-clear-target)."""
        if target in ("cache", "both"):
            for entry in self.cached():
                self.delete(entry.image_id, "cache cleared")
        if target in ("queue", "both"):
            self._connect()
            QueuedImage.delete().execute()

    def total_size(self) -> int:
        return sum(entry.size for entry in self.cached())

    def prune(self) -> list[str]:
        """Least recently used first, until the cache fits image_cache_max_size."""
        entries = sorted(self.cached(), key=lambda e: e.last_accessed)
        total = sum(e.size for e in entries)
        removed = []
        for entry in entries:
            if total <= self.max_size:
                break
            self.delete(entry.image_id, "pruned")
            total -= entry.size
            removed.append(entry.image_id)
        return removed

    def clean(self, verify: bool = False, now: float | None = None) -> list[str]:
        """Drop stalled partial files, files nobody recorded, and records whose file is
        gone or changed; with verify, also re-check each file's md5."""
        now = now or time.time()
        removed = []
        for name in os.listdir(self.incomplete_dir):
            path = os.path.join(self.incomplete_dir, name)
            with contextlib.suppress(FileNotFoundError):
                if now - os.stat(path).st_mtime >= self.stall_time:
                    os.unlink(path)
                    removed.append(path)
        entries = {entry.image_id: entry for entry in self.cached()}
        for name in os.listdir(self.directory):
            if not is_entry_name(name):
                continue  # the cache's own files (cache.db, incomplete/, the lock) stay
            path = self.path_of(name)
            if not os.path.isfile(path):
                continue
            entry = entries.get(name)
            if entry is None or not self._intact(entry, verify):
                self.delete(name, "invalid")
                removed.append(path)
        for image_id in set(entries) - set(os.listdir(self.directory)):
            self.delete(image_id, "file missing")
            removed.append(self.path_of(image_id))
        return removed

    def _intact(self, entry: CachedImage, verify: bool) -> bool:
        try:
            stat = os.stat(self.path_of(entry.image_id))
        except FileNotFoundError:
            return False
        if (stat.st_size, stat.st_ino, stat.st_mtime_ns) != (entry.size, entry.inode, entry.mtime_ns):
            return False
        if verify:
            md5 = hashlib.md5(usedforsecurity=False)
            with open(self.path_of(entry.image_id), "rb") as handle:
                while chunk := handle.read(1024 * 1024):
                    md5.update(chunk)
            return md5.hexdigest() == entry.checksum
        return True


def is_entry_name(name: str) -> bool:
    """Cache entries are named by image id (a UUID), nothing else."""
    try:
        return str(uuid.UUID(name)) == name.lower()
    except ValueError:
        return False


def entry_view(entry: CachedImage) -> dict:
    def epoch(value: datetime.datetime) -> float:
        return value.replace(tzinfo=datetime.timezone.utc).timestamp()
    return {"image_id": entry.image_id, "hits": entry.hits,
            "last_accessed": epoch(entry.last_accessed),
            "last_modified": epoch(entry.last_modified), "size": entry.size}


__all__ = ["ImageCache", "entry_view"]
