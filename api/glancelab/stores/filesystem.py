"""Filesystem backend: files named by image id under filesystem_store_datadir(s).

Writes go to a hidden temporary file in the target directory, are fsynced and then
renamed into place, so a reader or a crash never sees half an image. The disk starts
writing while the data still arrives (writeback.py), so the fsync is short.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import time
from typing import Iterable
from urllib.parse import unquote, urlparse

from glancelab.conf import ConfigError
from glancelab.stores.base import (ReadHandle, Store, Stored, file_chunks, is_image_id, temp_name,
                                   temp_prefix)
from glancelab.stores.errors import StoreError, StoreFull, StoreUnavailable
from glancelab.stores.writeback import Writeback

class FilesystemStore(Store):
    type = "file"
    url_schemes = ("file",)

    @classmethod
    def from_options(cls, store_id: str, group, description: str) -> "FilesystemStore":
        if group.filesystem_store_datadirs:
            dirs = _parse_datadirs(group.filesystem_store_datadirs)
        elif group.filesystem_store_datadir:
            dirs = [(group.filesystem_store_datadir, 0)]
        else:
            raise ConfigError(f"store {store_id!r}: set filesystem_store_datadir")
        try:
            # glance_store reads the mode's digits as octal: 640 and 0640 are both rw-r-----
            file_perm = int(str(group.filesystem_store_file_perm), 8)
        except ValueError:
            raise ConfigError(f"store {store_id!r}: filesystem_store_file_perm = "
                              f"{group.filesystem_store_file_perm} is not an octal mode") \
                from None
        return cls(store_id, dirs, file_perm, group.filesystem_store_chunk_size, description)

    def __init__(self, store_id: str, datadirs: list[tuple[str, int]], file_perm: int = 0,
                 chunk_size: int = 64 * 1024, description: str = "", create_on_write: bool = False):
        super().__init__(store_id, description)
        if not datadirs:
            raise StoreError(f"store {store_id!r}: set filesystem_store_datadir or "
                             "filesystem_store_datadirs")
        # Highest priority first; the next directory takes over when one is full.
        self.datadirs = [(os.path.abspath(path), prio)
                         for path, prio in sorted(datadirs, key=lambda d: -d[1])]
        self.file_perm = file_perm
        self.chunk_size = chunk_size
        # The staging store waits for its first write: a CLI run as root must not create
        # it with an owner the service cannot write as.
        self.create_on_write = create_on_write

    def prepare(self) -> None:
        if not self.create_on_write:
            self._make_dirs()

    def _make_dirs(self) -> None:
        for path, _ in self.datadirs:
            try:
                os.makedirs(path, exist_ok=True)
            except FileExistsError:
                raise StoreError(f"store {self.id!r}: {path} exists and is not a directory; "
                                 "move it away or name another filesystem_store_datadir") \
                    from None
            except OSError as exc:
                raise self._os_error(exc, "create its data directory") from exc

    # -- writing -----------------------------------------------------------------------
    def _choose_dir(self, size_hint: int | None) -> str:
        for path, _ in self.datadirs:
            if size_hint is None or shutil.disk_usage(path).free > size_hint:
                return path
        raise StoreFull(f"store {self.id!r}: no data directory has room for "
                        f"{size_hint} bytes; free space or add a directory to "
                        "filesystem_store_datadirs")

    def write(self, image_id: str, chunks: Iterable[bytes], size_hint: int | None,
              holder: str) -> Stored:
        try:
            if self.create_on_write:
                self._make_dirs()
            directory = self._choose_dir(size_hint)
        except OSError as exc:
            raise self._os_error(exc, "prepare its data directories") from exc
        final = os.path.join(directory, image_id)
        temp = os.path.join(directory, temp_name(holder, image_id))
        size = 0
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, self.file_perm or 0o640)
            with open(fd, "wb", buffering=0) as out:
                writeback = Writeback(out.fileno())
                for chunk in chunks:
                    out.write(chunk)
                    size += len(chunk)
                    writeback.written(size)
                os.fsync(out.fileno())
            if self.file_perm:
                os.chmod(temp, self.file_perm)
            os.rename(temp, final)
            _fsync_dir(directory)
        except BaseException as exc:
            with contextlib.suppress(OSError):  # the first error is the one to report
                os.unlink(temp)
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StoreFull(f"store {self.id!r}: {directory} is full; free space or add "
                                "a directory to filesystem_store_datadirs") from exc
            if isinstance(exc, OSError):
                raise self._os_error(exc, f"write {directory}") from exc
            raise
        return Stored(url=f"file://{final}", size=size)

    def _os_error(self, exc: OSError, doing: str) -> StoreError:
        """Glance answers 503 for storage it may not use (StorageWriteDenied): so do we,
        naming the store, the path and the fix."""
        where = f"store {self.id!r} cannot {doing}"
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return StoreUnavailable(f"Insufficient permissions on image storage media: {where}: "
                                    f"{exc.strerror} ({exc.filename}); give the API's user "
                                    "access (e.g. chown glance:glance, chmod 0750)")
        return StoreUnavailable(f"{where}: {exc.strerror} ({exc.filename})")

    # -- reading and deleting --------------------------------------------------------------
    def open(self, url: str, offset: int = 0, length: int | None = None) -> ReadHandle:
        path = self.path_of(url)
        try:
            handle = open(path, "rb")
        except FileNotFoundError:
            raise StoreError(f"store {self.id!r}: the data file {path} is missing") from None
        except OSError as exc:
            raise self._os_error(exc, "read its data") from exc
        block_device = _is_block_device(handle)
        total = handle.seek(0, os.SEEK_END) if block_device else os.fstat(handle.fileno()).st_size
        handle.seek(offset)
        length = (total - offset) if length is None else length
        if block_device:
            # sendfile() sends nothing from a block device (its st_size is 0): read it in chunks.
            return ReadHandle(length=length, chunks=file_chunks(handle, length, self.chunk_size),
                              closer=handle.close)
        return ReadHandle(length=length, file=handle)

    def delete(self, url: str) -> None:
        try:
            _remove_quietly(self.path_of(url))
        except OSError as exc:
            raise self._os_error(exc, "delete its data") from exc

    def size_of(self, url: str) -> int:
        path = self.path_of(url)
        try:
            with open(path, "rb") as handle:  # also proves it is readable by this user
                return os.fstat(handle.fileno()).st_size if not _is_block_device(handle) \
                    else handle.seek(0, os.SEEK_END)
        except OSError as exc:
            raise StoreError(f"store {self.id!r}: cannot read {path}: {exc.strerror}") from exc

    @staticmethod
    def path_of(url: str) -> str:
        return unquote(urlparse(url).path)

    # -- housekeeping ----------------------------------------------------------------------
    def recover(self, holder_prefix: str) -> list[str]:
        prefix = temp_prefix(holder_prefix)
        removed = []
        for directory, _ in self.datadirs:
            for name in _listdir(directory):
                if name.startswith(prefix):
                    _remove_quietly(os.path.join(directory, name))
                    removed.append(os.path.join(directory, name))
        return removed

    def find_orphans(self, known_urls: set[str], min_age_seconds: float) -> list[str]:
        known_paths = {self.path_of(url) for url in known_urls if url.startswith("file://")}
        found = []
        now = time.time()
        for directory, _ in self.datadirs:
            for name in _listdir(directory):
                path = os.path.join(directory, name)
                if not is_image_id(name) or path in known_paths:
                    continue
                try:
                    if now - os.stat(path).st_mtime < min_age_seconds:
                        continue
                except FileNotFoundError:
                    continue
                found.append(path)
        return found

    def delete_orphan(self, path: str) -> None:
        if os.path.dirname(path) not in {directory for directory, _ in self.datadirs} or \
                not is_image_id(os.path.basename(path)):
            raise StoreError(f"{path} is not an image file of store {self.id!r}")
        _remove_quietly(path)

    def check(self) -> None:
        for directory, _ in self.datadirs:
            if not os.access(directory, os.W_OK | os.X_OK):
                raise StoreError(f"store {self.id!r}: {directory} is not writable by this "
                                 "user; fix its owner and mode (e.g. glance:glance 0750)")

    def local_directory(self) -> str | None:
        return self.datadirs[0][0]  # the highest priority one

    def properties(self) -> dict:
        props = {"chunk_size": self.chunk_size}
        if len(self.datadirs) == 1:
            props["data_dir"] = self.datadirs[0][0]
        else:
            props["data_dirs"] = [f"{path}:{prio}" for path, prio in self.datadirs]
        return props

    def owns(self, url: str) -> bool:
        if not url.startswith("file://"):
            return False
        path = self.path_of(url)
        return any(os.path.dirname(path) == directory for directory, _ in self.datadirs)


def _is_block_device(handle) -> bool:
    import stat
    return stat.S_ISBLK(os.fstat(handle.fileno()).st_mode)


def _listdir(directory: str) -> list[str]:
    try:
        return os.listdir(directory)
    except FileNotFoundError:
        return []


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _parse_datadirs(values: list[str]) -> list[tuple[str, int]]:
    """PATH:PRIORITY entries, from repeated lines (glance_store's MultiStrOpt) or commas."""
    dirs = []
    for item in (part.strip() for value in values for part in value.split(",")):
        if not item:
            continue
        path, _, prio = item.rpartition(":") if ":" in item else (item, "", "0")
        try:
            dirs.append((path, int(prio or 0)))
        except ValueError:
            raise ConfigError(f"filesystem_store_datadirs entry {item!r}: use PATH:PRIORITY") \
                from None
    return dirs
