"""Start the disk's writeback while an image is still arriving.

The kernel keeps written data in the page cache until its dirty limit (a tenth of
memory) or an fsync: an image smaller than that reaches the disk only at the final
fsync, so an upload would wait for the whole disk write after its last byte. Asking
every few MiB for the written range to go out now (sync_file_range with
SYNC_FILE_RANGE_WRITE, which neither waits for the disk nor drops the cached pages)
overlaps the disk with the network; the final fsync is left with the tail only.
"""

from __future__ import annotations

import ctypes
import ctypes.util

STEP = 8 * 1024 * 1024
_SYNC_FILE_RANGE_WRITE = 2


def _sync_file_range():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        function = libc.sync_file_range
    except (OSError, AttributeError):  # not Linux: the final fsync does all the work
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_SYNC = _sync_file_range()


class Writeback:
    """Tell it how far a file has been written; it starts the disk writing behind."""

    def __init__(self, fd: int):
        self.fd = fd
        self.started = 0

    def written(self, end: int) -> None:
        if _SYNC is not None and end - self.started >= STEP:
            # A hint only: an error here shows up again, and is reported, at the fsync.
            _SYNC(self.fd, self.started, end - self.started, _SYNC_FILE_RANGE_WRITE)
            self.started = end
