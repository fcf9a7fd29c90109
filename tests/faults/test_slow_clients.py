"""Slow clients cannot tie up a node: request heads are read by the worker's event loop
under client_header_timeout, small bodies under client_body_timeout, large bodies under
client_body_min_rate. 300 clients trickling headers and 300 trickling bodies against one
worker (64 threads): everyone else keeps being served, and each trickler ends with a 408
or a closed connection."""

from __future__ import annotations

import os
import selectors
import socket
import statistics
import threading
import time

import pytest
import requests

from harness import ApiServer
from helpers import ADMIN, Client

TRICKLERS = 300
HEADER_TIMEOUT = 3
BODY_TIMEOUT = 3


@pytest.fixture
def one_worker(tmp_path):
    server = ApiServer(str(tmp_path), workers=1, extra_conf=f"""
        [glancelab]
        client_header_timeout = {HEADER_TIMEOUT}
        client_body_timeout = {BODY_TIMEOUT}
        """).start()
    yield server
    server.stop()


def _connect(server) -> socket.socket:
    host, port = server.url.split("//")[1].split(":")
    sock = socket.create_connection((host, int(port)))
    sock.setblocking(False)
    return sock


class Tricklers:
    """Sockets that each send one more byte a second, driven by one thread."""

    def __init__(self, server, count: int, first: bytes, byte: bytes):
        self.sockets = [_connect(server) for _ in range(count)]
        for sock in self.sockets:
            sock.send(first)
        self.byte = byte
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.wait(1.0):
            for sock in self.sockets:
                try:
                    sock.send(self.byte)
                except OSError:
                    pass  # the server closed it: what the test wants

    def outcomes(self, within: float) -> dict[str, int]:
        """How each connection ended: '408', 'closed', or 'open' if it still waits."""
        self.stop.set()
        self.thread.join()
        seen = {sock: b"" for sock in self.sockets}
        ended: dict[socket.socket, str] = {}
        selector = selectors.DefaultSelector()
        for sock in self.sockets:
            selector.register(sock, selectors.EVENT_READ)
        deadline = time.monotonic() + within
        while len(ended) < len(self.sockets) and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.5):
                sock = key.fileobj
                try:
                    data = sock.recv(65536)
                except (ConnectionResetError, BrokenPipeError):
                    data = b""
                except BlockingIOError:
                    continue
                if data:
                    seen[sock] += data
                    continue
                ended[sock] = "408" if seen[sock].startswith(b"HTTP/1.1 408") else "closed"
                selector.unregister(sock)
        counts = {"408": 0, "closed": 0, "open": 0}
        for sock in self.sockets:
            counts[ended.get(sock, "open")] += 1
            sock.close()
        return counts


def _p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98] if len(samples) > 1 else samples[0]


def test_trickling_heads_and_bodies_leave_the_node_serving(one_worker):
    heads = Tricklers(one_worker, TRICKLERS, b"GET /v2/images HTTP/1.1\r\nHost: x\r\n",
                      b"X")  # a header line that never ends
    body_head = ("POST /v2/images HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Content-Length: 60000\r\n\r\n").encode()
    bodies = Tricklers(one_worker, TRICKLERS, body_head, b" ")
    health, listing = [], []
    session = requests.Session()
    session.headers.update(ADMIN)
    until = time.monotonic() + HEADER_TIMEOUT + 2
    while time.monotonic() < until:
        for path, samples in (("/healthcheck", health), ("/v2/images?limit=5", listing)):
            started = time.monotonic()
            answer = session.get(f"{one_worker.url}{path}", timeout=5)
            samples.append(time.monotonic() - started)
            assert answer.status_code == 200, answer.text
    print(f"\nwith {2 * TRICKLERS} trickling clients: /healthcheck p99 "
          f"{_p99(health) * 1000:.1f} ms, list p99 {_p99(listing) * 1000:.1f} ms "
          f"({len(health)} and {len(listing)} requests)")
    for name, tricklers in (("heads", heads), ("bodies", bodies)):
        counts = tricklers.outcomes(within=HEADER_TIMEOUT + BODY_TIMEOUT + 5)
        assert counts["open"] == 0, (name, counts)
        assert counts["408"] > 0, (name, counts)
    # nothing of the trickled bodies became an image
    names = [i["name"] for i in Client(one_worker.url, ADMIN).get("/v2/images").json()["images"]]
    assert names == [], names


def test_an_upload_under_the_minimum_rate_is_cut(one_worker):
    client = Client(one_worker.url, ADMIN)
    image = client.create_image()
    with client.start_raw_upload(image["id"], 10 * 1024 * 1024, os.urandom(1024)) as sock:
        started = time.monotonic()
        for _ in range(3 * BODY_TIMEOUT):  # 100 bytes a second: under the 500 B/s minimum
            try:
                sock.sendall(b"x" * 100)
            except OSError:
                break
            time.sleep(1)
        sock.settimeout(BODY_TIMEOUT + 5)
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except (ConnectionResetError, socket.timeout):
            pass
    assert reply.startswith(b"HTTP/1.1 408"), reply[:300]
    assert b"client_body_min_rate" in reply
    assert time.monotonic() - started < 3 * BODY_TIMEOUT + 5
    assert client.get(f"/v2/images/{image['id']}").json()["status"] == "queued"
    assert os.listdir(one_worker.datadir) == []


def test_a_small_body_sent_after_100_continue(one_worker):
    """A client that waits for "100 Continue" before its body is not made to wait."""
    body = b'{"name": "expect"}'
    host, port = one_worker.url.split("//")[1].split(":")
    headers = "".join(f"{k}: {v}\r\n" for k, v in ADMIN.items())
    with socket.create_connection((host, int(port)), timeout=BODY_TIMEOUT) as sock:
        sock.sendall(f"POST /v2/images HTTP/1.1\r\nHost: x\r\n{headers}"
                     "Content-Type: application/json\r\nExpect: 100-continue\r\n"
                     f"Content-Length: {len(body)}\r\n\r\n".encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(body)
        assert sock.recv(65536).startswith(b"HTTP/1.1 201")
