"""Cutting one stream of chunks into fixed-size pieces without holding more than one piece."""

from __future__ import annotations

import threading
from typing import Iterable, Iterator


class Pieces:
    """Iterates over pieces of `size` bytes (the last may be shorter) of a chunk stream.

    Each piece is itself an iterator of chunks, so a backend can stream a piece
    (Swift segments) or join it into one buffer (S3 parts).
    """

    def __init__(self, chunks: Iterable[bytes], size: int):
        self._chunks = iter(chunks)
        self._size = size
        self._pending = b""
        self._done = False

    def __iter__(self) -> Iterator[Iterator[bytes]]:
        while True:
            if not self._pending and not self._done:
                self._pending = next(self._chunks, b"")
                self._done = not self._pending
            if not self._pending:
                return
            yield self._piece()

    def _piece(self) -> Iterator[bytes]:
        left = self._size
        while left:
            if not self._pending:
                if self._done:
                    return
                self._pending = next(self._chunks, b"")
                if not self._pending:
                    self._done = True
                    return
            take, self._pending = self._pending[:left], self._pending[left:]
            left -= len(take)
            yield take


def read_up_to(chunks: Iterator[bytes], limit: int) -> tuple[bytes, bytes]:
    """(first `limit` bytes of the stream, what was read beyond them)."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        if len(buffer) > limit:
            break
    return bytes(buffer[:limit]), bytes(buffer[limit:])


class ChunkReader:
    """A read(size) file interface over a chunk stream, for clients that want one.

    http.client reads request bodies 8 KiB at a time, so a read takes a view of the
    current chunk instead of copying what is left of it. Counts the bytes read, and
    keeps an exception raised by the stream itself (a client that went away, a quota
    crossed) so the caller can tell it from a backend failure. `ended` is set once
    the stream has given its last chunk or failed.
    """

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks = iter(chunks)
        self._chunk = memoryview(b"")
        self._offset = 0
        self.size = 0
        self.error: BaseException | None = None
        self.ended = threading.Event()

    def _refill(self) -> bool:
        try:
            chunk = next(self._chunks)
        except StopIteration:
            self.ended.set()
            return False
        except BaseException as exc:
            self.error = exc
            self.ended.set()
            raise
        self._chunk, self._offset = memoryview(chunk), 0
        return True

    def read(self, size: int = -1) -> bytes:
        parts = []
        wanted = size
        while wanted != 0:
            if self._offset >= len(self._chunk) and not self._refill():
                break
            end = len(self._chunk) if wanted < 0 else min(len(self._chunk), self._offset + wanted)
            parts.append(self._chunk[self._offset:end])
            if wanted > 0:
                wanted -= end - self._offset
            self._offset = end
        data = parts[0].tobytes() if len(parts) == 1 else b"".join(parts)
        self.size += len(data)
        return data
