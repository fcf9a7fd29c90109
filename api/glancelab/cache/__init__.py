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

import contextlib
import datetime
import errno
import fcntl
import hashlib
import logging
import os
import threading
import time
import uuid
from typing import Iterator

import peewee

from glancelab.cache.background_copy import BackgroundCopy
from glancelab.cache.models import (CachedImage, QueuedImage, cache_database,
                                    open_cache_database)
from glancelab.cache.nodes import NodeIndex
from glancelab.conf import Config
from glancelab.db import database
from glancelab.db.models import utcnow
from glancelab.stores.base import ReadHandle

LOG = logging.getLogger(__name__)
INCOMPLETE = "incomplete"
DB_FILE = "cache.db"
MAINTENANCE_LOCK = "maintenance.lock"
COPY_STEP = 64 * 1024 * 1024  # one kernel copy call; bounds how long a stop waits
VERIFY_CHUNK = 1024 * 1024
# A download waits for a copy being finished on this node (open_cached) when it lacks at
# most FINISH_NEAR bytes, for at most FINISH_WAIT_BASE s plus the time to check its md5.
FINISH_NEAR = 64 * 1024 * 1024
FINISH_WAIT_BASE = 1.0
FINISH_CHECK_RATE = 100 * 1024 * 1024


class ImageCache:
    def __init__(self, directory: str, max_size: int, stall_time: int,
                 nodes: NodeIndex | None = None):
        self.directory = os.path.abspath(directory)
        self.nodes = nodes
        self.max_size = max_size
        self.stall_time = stall_time
        self.incomplete_dir = os.path.join(self.directory, INCOMPLETE)
        self._opened_in: int | None = None
        self._filling: set[str] = set()  # images this process is copying in now
        self._filling_lock = threading.Lock()
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
            sizes = [found for found in (_size_of(os.path.join(self.incomplete_dir, name))
                                         for name in _listdir(self.incomplete_dir)
                                         if name.startswith(f"{image_id}.")) if found >= 0]
            if sizes:
                gone_at = None
                biggest = max(sizes)
                if biggest != last:
                    grown_at, last = now, biggest
                if biggest < size and (size - biggest > FINISH_NEAR or now - grown_at > 0.5):
                    return False
            elif last < 0 and not self._just_placed(image_id):
                return False  # no copy under way
            elif CachedImage.select().where(CachedImage.image_id == image_id).exists():
                return True  # renamed into place and recorded
            else:  # renamed and about to be recorded, or dropped
                gone_at = gone_at or now
                if now - gone_at > 0.5:
                    return False
            time.sleep(0.01)
            now = time.monotonic()
        return False

    def _just_placed(self, image_id: str) -> bool:
        """A copy renamed into place a moment ago, whose record is being written."""
        try:
            return time.time() - os.stat(self.path_of(image_id)).st_mtime < 5
        except FileNotFoundError:
            return False

    def _open_cached(self, image_id: str, size: int | None, checksum: str | None):
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

    def _unusable(self, exc: Exception) -> None:
        """Say once a minute (not once a download) that downloads bypass the cache."""
        now = time.monotonic()
        if now - self._warned_at >= 60:
            self._warned_at = now
            LOG.warning("the image cache at %s cannot be used (%s); downloads come from the "
                        "stores until the API's user can read and write it", self.directory, exc)

    def fill_while_serving(self, image_id: str, size: int | None, checksum: str | None,
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
                    out = open(self._temp_path(image_id), "wb")
                except OSError as exc:
                    os.close(source)
                    self._release_claim(image_id)
                    LOG.warning("not caching %s: %s", image_id, exc)
                    return handle
                threading.Thread(target=self._copy_in_thread,
                                 args=(image_id, size, checksum, source, out),
                                 name=f"cache-fill-{image_id}", daemon=True).start()
            return handle
        return ReadHandle(length=handle.length,
                          chunks=self.tee(image_id, size, checksum, handle.iter_chunks()))

    def fill(self, image_id: str, size: int | None, checksum: str | None,
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

    def _claim(self, image_id: str) -> bool:
        with self._filling_lock:
            if image_id in self._filling:
                return False  # one copy per process at a time is enough
            self._filling.add(image_id)
            return True

    def _temp_path(self, image_id: str) -> str:
        # the pid in the name lets recover() remove exactly a dead worker's copies
        return os.path.join(self.incomplete_dir,
                            f"{image_id}.{os.getpid()}.{threading.get_ident()}")

    def _release_claim(self, image_id: str) -> None:
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
        temp = out.name if out is not None else self._temp_path(image_id)
        committed = False
        try:
            with (out if out is not None else open(temp, "wb")) as target:
                copied = _kernel_copy(source, target.fileno(), size)
            if copied == size and _md5_of(temp) == checksum:
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
            self._release_claim(image_id)

    def tee(self, image_id: str, size: int | None, checksum: str | None,
            chunks: Iterator[bytes]) -> Iterator[bytes]:
        """Pass chunks through while writing a copy; commit it only if it is exact."""
        temp = self._temp_path(image_id)
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
                    and _md5_matches(temp, checksum)
                    and self._commit(image_id, temp, size, checksum)):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp)

    def _commit(self, image_id: str, temp: str, size: int, checksum: str | None) -> bool:
        target = self.path_of(image_id)
        try:
            with open(temp, "rb") as handle:
                os.fsync(handle.fileno())
            os.rename(temp, target)  # atomic: another worker's identical copy is replaced whole
            stat = os.stat(target)
        except OSError as exc:
            LOG.warning("could not commit cached %s: %s", image_id, exc)
            return False
        try:
            self._connect()
            now = utcnow()
            (CachedImage.insert(image_id=image_id, size=size, checksum=checksum, hits=0,
                                last_accessed=now, last_modified=now, inode=stat.st_ino,
                                mtime_ns=stat.st_mtime_ns)
             .on_conflict_replace().execute())
            QueuedImage.delete().where(QueuedImage.image_id == image_id).execute()
        except peewee.DatabaseError as exc:  # unrecorded, the copy is never served: drop it
            self._unusable(exc)
            with contextlib.suppress(OSError):
                os.unlink(target)
            return False
        if self.nodes is not None:
            self.nodes.holds(image_id)
        LOG.info("image cached", extra={"image_id": image_id, "size": size})
        return True

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
        """What the cache takes on disk: its entries and the copies still being written."""
        return sum(entry.size for entry in self.cached()) + self._incomplete_size()

    def _incomplete_size(self) -> int:
        total = 0
        for name in _listdir(self.incomplete_dir):
            with contextlib.suppress(FileNotFoundError):
                total += os.stat(os.path.join(self.incomplete_dir, name)).st_size
        return total

    def recover(self, pid: int | None = None) -> list[str]:
        """Remove the partial copies of process `pid` (a worker that died), or of every
        process (at start, before any worker runs); returns what went."""
        mark = None if pid is None else f".{pid}."
        removed = []
        for name in _listdir(self.incomplete_dir):
            if mark is None or mark in name:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(self.incomplete_dir, name))
                    removed.append(name)
        return removed

    @contextlib.contextmanager
    def maintenance(self):
        """One clean or prune at a time on this cache, across workers and `glancelab cache`
        runs (Glance holds an external lock for the same reason)."""
        with open(os.path.join(self.directory, MAINTENANCE_LOCK), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def prune(self) -> list[str]:
        """Least recently used first, until the cache fits image_cache_max_size (partial
        copies count: they will be entries soon)."""
        entries = sorted(self.cached(), key=lambda e: e.last_accessed)
        total = sum(e.size for e in entries) + self._incomplete_size()
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
            return _md5_of(self.path_of(entry.image_id)) == entry.checksum
        return True


def _size_of(path: str) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return -1


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except FileNotFoundError:  # not prepared yet: nothing in it
        return []


def _md5_matches(path: str, checksum: str | None) -> bool:
    try:
        return _md5_of(path) == checksum
    except OSError as exc:
        LOG.warning("not caching %s: %s", os.path.basename(path), exc)
        return False


def _md5_of(path: str) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(VERIFY_CHUNK):
            md5.update(chunk)
    return md5.hexdigest()


def _kernel_copy(source: int, target: int, size: int) -> int:
    """Copy size bytes from offset 0 of source to target in the kernel; bytes copied.

    copy_file_range (a reflink where the filesystem can) with explicit source offsets,
    so the request's sendfile on the same file is not disturbed; sendfile where the
    kernel cannot copy between these two files."""
    copied = 0
    use_copy_range = hasattr(os, "copy_file_range")
    while copied < size:
        count = min(COPY_STEP, size - copied)
        if use_copy_range:
            try:
                step = os.copy_file_range(source, target, count, copied)
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL,
                                     errno.EOPNOTSUPP):
                    raise
                use_copy_range = False
                continue
        else:
            step = os.sendfile(target, source, copied, count)
        if step == 0:
            break  # the source is shorter than the image says: the size check refuses it
        copied += step
    return copied


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
