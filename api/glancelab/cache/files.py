"""The cache's files: where entries and partial copies live, and what is done to them.

image_cache_dir/<image id> is a committed copy; image_cache_dir/incomplete/ holds copies
being written, each named <image id>.<pid>.<thread> so recovery removes exactly a dead
worker's; the cache's own files (cache.db, its WAL, the lock files) are never named by an
image id, so nothing that takes an image id can reach them.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import threading
import time
import uuid

LOG = logging.getLogger(__name__)
INCOMPLETE = "incomplete"
MAINTENANCE_LOCK = "maintenance.lock"
COPY_STEP = 64 * 1024 * 1024  # one kernel copy call; bounds how long a stop waits
VERIFY_CHUNK = 1024 * 1024


class CacheFiles:
    def __init__(self, directory: str):
        self.directory = os.path.abspath(directory)
        self.incomplete_dir = os.path.join(self.directory, INCOMPLETE)

    def prepare(self) -> None:
        """Make the cache's directories; run at start, not when the config is read."""
        os.makedirs(self.incomplete_dir, exist_ok=True)

    def path_of(self, image_id: str) -> str:
        if not is_entry_name(image_id):  # never cache.db, its WAL, incomplete/, a lock file
            raise ValueError(f"{image_id!r} does not name a cached image")
        return os.path.join(self.directory, image_id)

    def temp_path(self, image_id: str) -> str:
        # the pid in the name lets remove_partials() take exactly a dead worker's copies
        return os.path.join(self.incomplete_dir,
                            f"{image_id}.{os.getpid()}.{threading.get_ident()}")

    def remove(self, image_id: str) -> bool:
        """Remove an entry's file; whether there was one."""
        existed = os.path.exists(self.path_of(image_id))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path_of(image_id))
        return existed

    def entry_names(self) -> list[str]:
        """Image ids that have a file in the cache, recorded or not."""
        return [name for name in listdir(self.directory)
                if is_entry_name(name) and os.path.isfile(os.path.join(self.directory, name))]

    def just_placed(self, image_id: str) -> bool:
        """A copy renamed into place a moment ago, whose record is being written."""
        try:
            return time.time() - os.stat(self.path_of(image_id)).st_mtime < 5
        except FileNotFoundError:
            return False

    # -- partial copies ------------------------------------------------------------------------
    def partial_sizes(self, image_id: str) -> list[int]:
        """The sizes of the copies of an image being written now."""
        sizes = (size_of(os.path.join(self.incomplete_dir, name))
                 for name in listdir(self.incomplete_dir) if name.startswith(f"{image_id}."))
        return [size for size in sizes if size >= 0]

    def incomplete_size(self) -> int:
        return sum(max(size_of(os.path.join(self.incomplete_dir, name)), 0)
                   for name in listdir(self.incomplete_dir))

    def remove_partials(self, pid: int | None = None) -> list[str]:
        """Remove the partial copies of process `pid` (a worker that died), or of every
        process (at start, before any worker runs); returns what went."""
        mark = None if pid is None else f".{pid}."
        removed = []
        for name in listdir(self.incomplete_dir):
            if mark is None or mark in name:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(self.incomplete_dir, name))
                    removed.append(name)
        return removed

    def remove_stalled(self, stall_time: float, now: float) -> list[str]:
        """Partial copies untouched for stall_time seconds (their writer is gone)."""
        removed = []
        for name in listdir(self.incomplete_dir):
            path = os.path.join(self.incomplete_dir, name)
            with contextlib.suppress(FileNotFoundError):
                if now - os.stat(path).st_mtime >= stall_time:
                    os.unlink(path)
                    removed.append(path)
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


def is_entry_name(name: str) -> bool:
    """Cache entries are named by image id (a UUID), nothing else."""
    try:
        return str(uuid.UUID(name)) == name.lower()
    except ValueError:
        return False


def size_of(path: str) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return -1


def listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except FileNotFoundError:  # not prepared yet: nothing in it
        return []


def md5_matches(path: str, checksum: str | None) -> bool:
    try:
        return md5_of(path) == checksum
    except OSError as exc:
        LOG.warning("not caching %s: %s", os.path.basename(path), exc)
        return False


def md5_of(path: str) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(VERIFY_CHUNK):
            md5.update(chunk)
    return md5.hexdigest()


def kernel_copy(source: int, target: int, size: int) -> int:
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
