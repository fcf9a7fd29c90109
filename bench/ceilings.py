"""The least work an image server can do on this machine, to measure the API against.

`MinimalServer` answers PUT by receiving the body in 1 MiB reads, hashing it with md5
and sha512 in two threads (as any Glance upload must, with the API's own
ParallelDigest), writing it to a file (starting the disk's writeback as it goes) and
fsyncing it; and GET by sending that file with sendfile. curl against it on the same
loopback and disk is the ceiling an upload and a download through any HTTP server reach here: it
pays for the client, the kernel's TCP copies and the digests, which a bare `dd` does not.
"""

from __future__ import annotations

import os
import socket
import threading

from glancelab.images.digest import ParallelDigest
from glancelab.stores.writeback import Writeback

MiB = 1024 * 1024


class MinimalServer:
    def __init__(self, path: str):
        self.path = path
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen()
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/image"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._sock.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                head, body = _read_head(conn)
                if head.startswith(b"PUT"):
                    self._receive(conn, head, body)
                else:
                    self._send(conn)

    def _receive(self, conn: socket.socket, head: bytes, first: bytes) -> None:
        length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        if b"100-continue" in head.lower():
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        digests = ParallelDigest()
        with open(self.path, "wb", buffering=0) as out:
            writeback = Writeback(out.fileno())  # the disk writes while the data arrives
            chunk, received = first, len(first)
            while True:
                if chunk:
                    digests.update(chunk)
                    out.write(chunk)
                    writeback.written(received)
                if received >= length:
                    break
                chunk = conn.recv(min(MiB, length - received))
                if not chunk:
                    break
                received += len(chunk)
            os.fsync(out.fileno())
        digests.hexdigests()
        conn.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")

    def _send(self, conn: socket.socket) -> None:
        size = os.path.getsize(self.path)
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
        with open(self.path, "rb") as handle:
            conn.sendfile(handle)


def _read_head(conn: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        more = conn.recv(65536)
        if not more:
            break
        data += more
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest
