"""md5 and sha512 of a stream, each computed in a helper thread.

hashlib releases the GIL on large buffers, so the two digests run on two cores while
the request thread goes on receiving and writing; the bounded queues keep memory
constant (at most _QUEUE_DEPTH chunks wait per digest) and pace the upload to the
slower digest.
"""

from __future__ import annotations

import hashlib
import queue
import threading

_QUEUE_DEPTH = 4


class _DigestThread:
    def __init__(self, digest, name: str):
        self.digest = digest
        self.queue: queue.Queue = queue.Queue(maxsize=_QUEUE_DEPTH)
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (chunk := self.queue.get()) is not None:
            self.digest.update(chunk)

    def close(self) -> None:
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()


class ParallelDigest:
    def __init__(self):
        self._md5 = _DigestThread(hashlib.md5(usedforsecurity=False), "md5")
        self._sha512 = _DigestThread(hashlib.sha512(), "sha512")

    def update(self, chunk: bytes) -> None:
        self._sha512.queue.put(chunk)
        self._md5.queue.put(chunk)

    def close(self) -> None:
        self._sha512.close()
        self._md5.close()

    def hexdigests(self) -> tuple[str, str]:
        """(md5, sha512); ends the helper threads."""
        self.close()
        return self._md5.digest.hexdigest(), self._sha512.digest.hexdigest()
