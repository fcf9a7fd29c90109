"""md5 and sha512 of a stream, computed on two cores.

hashlib releases the GIL on large buffers, so md5 in a helper thread runs beside
sha512 in the request thread; a bounded queue keeps memory constant.
"""

from __future__ import annotations

import hashlib
import queue
import threading

_QUEUE_DEPTH = 8


class ParallelDigest:
    def __init__(self):
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha512 = hashlib.sha512()
        self._queue: queue.Queue = queue.Queue(maxsize=_QUEUE_DEPTH)
        self._thread = threading.Thread(target=self._run, name="md5", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            self._md5.update(chunk)

    def update(self, chunk: bytes) -> None:
        self._queue.put(chunk)
        self._sha512.update(chunk)

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def hexdigests(self) -> tuple[str, str]:
        """(md5, sha512); ends the helper thread."""
        self.close()
        return self._md5.hexdigest(), self._sha512.hexdigest()
