"""Errors in Glance's JSON format: {"code": "404 Not Found", "title": ..., "message": ...}."""

from __future__ import annotations

import http
import json
import logging

import falcon

LOG = logging.getLogger(__name__)

# webob's reason phrases, which Glance clients have always seen.
_TITLES = {
    413: "Request Entity Too Large",
    416: "Requested Range Not Satisfiable",
}


def title_for(status_code: int) -> str:
    return _TITLES.get(status_code) or http.HTTPStatus(status_code).phrase


class GlanceError(falcon.HTTPError):
    """An HTTP error with a message for the caller and optional extra headers."""

    def __init__(self, status_code: int, message: str, headers: dict | None = None):
        super().__init__(status_code, title=title_for(status_code), description=message,
                         headers=headers)


def bad_request(message: str) -> GlanceError:
    return GlanceError(400, message)


def forbidden(message: str) -> GlanceError:
    return GlanceError(403, message)


def not_found(message: str) -> GlanceError:
    return GlanceError(404, message)


def conflict(message: str) -> GlanceError:
    return GlanceError(409, message)


def too_large(message: str) -> GlanceError:
    return GlanceError(413, message)


def unavailable(message: str) -> GlanceError:
    return GlanceError(503, message)


def image_not_found(image_id: str) -> GlanceError:
    return not_found(f"No image found with ID {image_id}")


def wants_json(req: falcon.Request) -> bool:
    # As Glance (webob) does: JSON for clients that ask for it. Others, python-glanceclient
    # among them (Accept: */*), get plain text, which it reads; nobody gets HTML.
    return "json" in (req.get_header("Accept") or "").lower()


def serialize_error(req: falcon.Request, resp: falcon.Response, exc: falcon.HTTPError) -> None:
    code = exc.status_code
    title = title_for(code)
    message = exc.description or title
    if wants_json(req):
        resp.content_type = falcon.MEDIA_JSON
        resp.text = json.dumps({"code": f"{code} {title}", "title": title, "message": message})
    else:
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = f"{code} {title}\n\n{message}\n"


def handle_unexpected(req: falcon.Request, resp: falcon.Response, exc: Exception, params) -> None:
    """Anything unforeseen: log it with the request id and answer 500, not a traceback."""
    if isinstance(exc, falcon.HTTPError):
        raise exc
    request_id = getattr(req.context, "request_id", "-")
    LOG.exception("unhandled error", extra={"request_id": request_id})
    raise GlanceError(500, f"The server hit an unexpected error; see its log for request {request_id}.")
