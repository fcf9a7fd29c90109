"""Reading request input: JSON bodies bounded in size and shape, text without NUL bytes or
broken UTF-8 anywhere (path, query, body; identity headers in identity/middleware.py), so a database never sees what it
cannot store and a client gets a 400 that says what is wrong."""

from __future__ import annotations

import contextlib
import json
import socket

import falcon

from glancelab import errors


def read_json(req: falcon.Request, max_size: int):
    if req.content_length is not None and req.content_length > max_size:
        raise errors.too_large(f"Request body is {req.content_length} bytes; the limit is "
                               f"{max_size} (max_request_body_size).")
    # A chunked body has no Content-Length; the WSGI server's input ends where it ends.
    stream = req.bounded_stream if req.content_length is not None else req.stream
    raw = stream.read(max_size + 1)
    if len(raw) > max_size:
        raise errors.too_large(f"Request body exceeds {max_size} bytes (max_request_body_size).")
    if not raw.strip():
        raise errors.bad_request("Request body is empty; send a JSON document.")
    try:
        document = json.loads(raw)
    except RecursionError:
        raise errors.bad_request(f"JSON in request body is nested deeper than {MAX_DEPTH} "
                                 "levels.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.bad_request(f"Malformed JSON in request body: {exc}.") from None
    check_document(document)
    return document


# Deeper than any Glance document; JSON this deep is an attack, not an image.
MAX_DEPTH = 32
# What the databases' BIGINT holds.
INT_RANGE = (-(1 << 63), (1 << 63) - 1)


def check_text(value: str, what: str) -> None:
    """400 for a NUL character or a lone surrogate: no database stores them."""
    if "\x00" in value:
        raise errors.bad_request(f"{what} contains a NUL character.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise errors.bad_request(f"{what} is not valid UTF-8 (a lone surrogate).") from None


def check_document(document) -> None:
    """Every string and key of a parsed body passes check_text, every integer fits in 64
    bits, and nesting stays under MAX_DEPTH (walked without recursion)."""
    pending = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise errors.bad_request(f"JSON in request body is nested deeper than {MAX_DEPTH} "
                                     "levels.")
        if isinstance(value, str):
            check_text(value, "A string in the request body")
        elif isinstance(value, bool) or value is None or isinstance(value, float):
            continue
        elif isinstance(value, int):
            if not INT_RANGE[0] <= value <= INT_RANGE[1]:
                raise errors.bad_request(f"The number {value} in the request body is out of "
                                         "range (64-bit integers).")
        elif isinstance(value, dict):
            for key, item in value.items():
                check_text(key, "A key in the request body")
                pending.append((item, depth + 1))
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)


class InputGuard:
    """Falcon middleware: the request's path and query string are text a database can
    hold, before any resource sees them (identity headers are checked where they are
    decoded, in identity/middleware.py)."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        check_text(req.path, "The request path")
        for key, value in req.params.items():
            check_text(key, "A query parameter name")
            for item in value if isinstance(value, list) else [value]:
                check_text(item, f"Query parameter {key}")


# After a refusal or a failed upload, read (and drop) up to this much of what the client
# is still sending, so that a client that reads the answer only once its body is sent
# gets it, and a client that reuses the connection is not reset. Beyond it the
# connection is closed.
DRAIN_LIMIT = 256 * 1024 * 1024
DRAIN_CHUNK = 1024 * 1024


def drain(stream) -> None:
    drained = 0
    try:
        while drained < DRAIN_LIMIT and (chunk := stream.read(DRAIN_CHUNK)):
            drained += len(chunk)
    except Exception:  # noqa: BLE001 - the client went away: nothing left to answer
        pass


class ClientTimeout:
    """Falcon middleware: client_socket_timeout (Glance's key) on the request's socket,
    so a client that stops sending (or stops reading) fails its request after that
    long instead of holding a worker thread forever; a stalled upload then ends as an
    interrupted one (the image is queued again, its partial data removed)."""

    def __init__(self, seconds: int):
        self.seconds = seconds or None  # 0: wait forever

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        sock = req.env.get("gunicorn.socket")
        if sock is not None:  # gunicorn makes it blocking again before each request
            sock.settimeout(self.seconds)


class UnreadBody:
    """Falcon middleware, the one owner of draining: a request answered with an error
    before its body was all read (a 409 on a staged image, a 400 for an unknown store, a
    quota refused mid-upload) has the rest read and dropped, so the keep-alive connection
    stays usable; the server alone would drop only the first 64 KiB and then close it
    under the client's next request. A body whose reading already failed is left alone:
    waiting on a stalled client again would hold the thread for another timeout."""

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource,
                         req_succeeded: bool) -> None:
        if not (req.content_length or req.get_header("Transfer-Encoding")):
            return
        # gunicorn's body marks itself failed when a read raised (a timeout, a reset)
        if getattr(req.stream, "failed", False):
            # The connection will close. gunicorn's graceful close then reads what the
            # client still sends for up to 2 s, on the worker's event-loop thread: for a
            # client that stalled, that is 2 s of no other connection being served, per
            # connection. Ending the read side now makes that read return at once.
            sock = req.env.get("gunicorn.socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RD)
        elif resp.status_code >= 400:
            drain(req.stream)  # already read to its end: returns at once


def accepted(resp: falcon.Response) -> None:
    """202 with no body. Not labelled JSON: glanceclient parses any JSON-typed body."""
    resp.status = falcon.HTTP_202
    resp.content_type = "text/html; charset=UTF-8"
    resp.text = ""
