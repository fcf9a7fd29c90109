"""Reading JSON request bodies: bounded in size, with clear errors."""

from __future__ import annotations

import json

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
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.bad_request(f"Malformed JSON in request body: {exc}.") from None


def accepted(resp: falcon.Response) -> None:
    """202 with no body. Not labelled JSON: glanceclient parses any JSON-typed body."""
    resp.status = falcon.HTTP_202
    resp.content_type = "text/html; charset=UTF-8"
    resp.text = ""
