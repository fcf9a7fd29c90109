"""gunicorn's gthread worker, with each request's head read by the event loop.

Stock gthread hands a connection to a thread as soon as its first byte arrives; the
thread then blocks parsing the headers, so clients that send one header line every few
seconds each hold a thread, and 64 of them stop a worker. Here the worker's event loop
collects the request line and headers (and a small body, up to the largest JSON body
the API takes) without a thread, under a deadline: client_header_timeout for the head,
as nginx's client_header_timeout and HAProxy's `timeout http-request`, then
client_body_timeout for a small body. A client that misses it gets a 408 and the
connection is closed. Only complete heads reach a thread; a large body (an upload) is
then read under a minimum rate (web/body.py RateGuard).
"""

from __future__ import annotations

import dataclasses
import errno
import json
import re
import select
import selectors
import time
from functools import partial

from gunicorn.workers.gthread import TConn, ThreadWorker

HEAD_END = b"\r\n\r\n"
# What the event loop holds of one head before it lets the parser judge it (gunicorn
# refuses heads past its own limits with a 4xx).
MAX_HEAD = 128 * 1024
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length[ \t]*:[ \t]*(\d{1,12})[ \t]*\r\n", re.I)
TRANSFER_ENCODING = re.compile(rb"\r\ntransfer-encoding[ \t]*:", re.I)
# A client that sends "Expect: 100-continue" waits for an answer before its body.
EXPECT = re.compile(rb"\r\nexpect[ \t]*:", re.I)
RECV_SIZE = 64 * 1024


# After a stop begins, a request still arriving has this long (gunicorn's own linger).
STOP_LINGER = 2.0


@dataclasses.dataclass(frozen=True)
class ClientLimits:
    header_timeout: float   # seconds for the request line and headers
    body_timeout: float     # seconds for a small body once the head is in; the rate window
    body_min_rate: int      # bytes a second a large body must keep up, window by window
    small_body: int         # bytes: a body up to this size is read before a thread is used


class ClientTooSlow(TimeoutError):
    """The client sent its body slower than client_body_min_rate."""


class MinimumRate:
    """A connection's socket as the request parser reads it in a thread: each window of
    body_timeout seconds must bring body_min_rate x body_timeout bytes (Apache's
    mod_reqtimeout MinRate), and a client that sends nothing for a window is cut."""

    def __init__(self, sock, limits: ClientLimits):
        self.sock = sock
        self.window = limits.body_timeout
        self.least = limits.body_min_rate * limits.body_timeout
        self.poll = select.poll()
        self.poll.register(sock, select.POLLIN)
        self.restart()

    def restart(self) -> None:
        self.window_end = time.monotonic() + self.window
        self.received = 0

    def recv(self, size: int) -> bytes:
        while True:
            now = time.monotonic()
            if now >= self.window_end:
                if self.received < self.least:
                    raise ClientTooSlow(f"the client sent {self.received} bytes in "
                                        f"{self.window:g} s, under client_body_min_rate")
                self.restart()
            # client_socket_timeout (the socket's own timeout) still ends a silence
            idle_limit = self.sock.gettimeout()
            wait = self.window_end - now
            if idle_limit is not None:
                wait = min(wait, idle_limit)
            if self.poll.poll(max(0.0, wait) * 1000):
                data = self.sock.recv(size)
                self.received += len(data)
                return data
            if idle_limit is not None and wait >= idle_limit:
                raise TimeoutError(f"the client sent nothing for {idle_limit:g} s "
                                   "(client_socket_timeout)")

    def __getattr__(self, name):
        return getattr(self.sock, name)


def _timeout_answer() -> bytes:
    body = json.dumps({"code": "408 Request Timeout", "title": "Request Timeout",
                       "message": "The request was not received in time; send it again "
                                  "without pausing."}).encode()
    return (b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)


TIMEOUT_ANSWER = _timeout_answer()


class Arrival:
    """A connection whose request is still arriving."""

    __slots__ = ("conn", "data", "deadline", "needed")

    def __init__(self, conn: TConn, deadline: float):
        self.conn = conn
        self.data = bytearray()
        self.deadline = deadline
        self.needed: int | None = None  # bytes of head and small body, once known


class GuardedThreadWorker(ThreadWorker):
    """ThreadWorker whose event loop reads request heads; `limits` is set by the server."""

    limits: ClientLimits

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.arrivals: dict[TConn, Arrival] = {}

    # -- where connections come from ---------------------------------------------------

    def accept(self, listener):
        try:
            client_sock, client_addr = listener.accept()
        except OSError as exc:  # as gunicorn: another worker took it, or the client left
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        self._await_head(TConn(self.cfg, client_sock, client_addr, listener.getsockname()))

    def on_client_socket_readable(self, conn, client):
        """A kept-alive connection's next request begins: its head is read here too."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._await_head(conn)

    def _await_head(self, conn: TConn) -> None:
        conn.sock.setblocking(False)
        deadline = time.monotonic() + (self.limits.header_timeout if self.alive else STOP_LINGER)
        arrival = Arrival(conn, deadline)
        self.arrivals[conn] = arrival
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_bytes, arrival))

    # -- reading -----------------------------------------------------------------------

    def _on_bytes(self, arrival: Arrival, sock) -> None:
        try:
            chunk = sock.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return self._drop(arrival, answer=False)
        if not chunk:  # the client closed (or half-closed) its side
            if arrival.needed is not None:  # mid-body: the API answers the short request
                return self._to_thread(arrival)
            return self._drop(arrival, answer=False)
        searched = max(0, len(arrival.data) - len(HEAD_END) + 1)  # a trickle is not rescanned
        arrival.data += chunk
        if arrival.needed is None:
            end = arrival.data.find(HEAD_END, searched)
            if end < 0:
                if len(arrival.data) > MAX_HEAD:
                    self._to_thread(arrival)
                return
            arrival.needed = self._with_small_body(bytes(arrival.data[:end + 4]))
            if arrival.needed is None:  # a large or chunked body: a thread reads it
                return self._to_thread(arrival)
            arrival.deadline = time.monotonic() + self.limits.body_timeout
        if len(arrival.data) >= arrival.needed:
            self._to_thread(arrival)

    def _with_small_body(self, head: bytes) -> int | None:
        """Bytes of head and body to read here, or None to let a thread read the body."""
        if TRANSFER_ENCODING.search(head) or EXPECT.search(head):
            return None
        length = CONTENT_LENGTH.search(head)
        size = int(length.group(1)) if length else 0
        return len(head) + size if size <= self.limits.small_body else None

    def _to_thread(self, arrival: Arrival) -> None:
        conn = arrival.conn
        self._forget(arrival)
        conn.arrived = bytes(arrival.data)
        conn.data_ready = True
        self.enqueue_req(conn)

    def handle(self, conn):
        arrived = getattr(conn, "arrived", None)
        if arrived:
            conn.arrived = None
            conn.sock.setblocking(True)
            conn.init()
            unreader = conn.parser.unreader
            unreader.unread(arrived)  # the parser reads these bytes first
            if not isinstance(unreader.sock, MinimumRate):
                unreader.sock = MinimumRate(unreader.sock, self.limits)
            unreader.sock.restart()
        return super().handle(conn)

    # -- deadlines ---------------------------------------------------------------------

    def murder_pending(self):
        """Called once a loop: also ends the arrivals past their deadline (all of them
        when the worker stops)."""
        super().murder_pending()
        now = time.monotonic()
        if not self.alive:
            for arrival in self.arrivals.values():
                arrival.deadline = min(arrival.deadline, now + STOP_LINGER)
        for arrival in [a for a in self.arrivals.values() if a.deadline <= now]:
            # a client that sent nothing was only idle: closed without an answer
            self._drop(arrival, answer=bool(arrival.data))

    def _drop(self, arrival: Arrival, answer: bool) -> None:
        self._forget(arrival)
        sock = arrival.conn.sock
        if answer:
            try:
                sock.send(TIMEOUT_ANSWER)  # fits the socket's buffer: never blocks here
            except OSError:
                pass
        self.nr_conns -= 1
        arrival.conn.close()

    def _forget(self, arrival: Arrival) -> None:
        self.arrivals.pop(arrival.conn, None)
        try:
            self.poller.unregister(arrival.conn.sock)
        except (KeyError, ValueError, OSError):
            pass


def worker_class(limits: ClientLimits) -> type[GuardedThreadWorker]:
    """The worker class gunicorn forks, with this server's limits."""
    return type("GlancelabWorker", (GuardedThreadWorker,), {"limits": limits})
