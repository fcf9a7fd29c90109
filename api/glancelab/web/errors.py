"""The one place domain errors become HTTP answers, in Glance's error format.

{"code": "404 Not Found", "title": ..., "message": ...} for clients that ask for JSON,
plain text for the rest (as Glance's webob does); Falcon's own errors (an unknown route,
a malformed header) take the same form.
"""

from __future__ import annotations

import functools
import http
import json
import logging

import falcon

from glancelab import errors

LOG = logging.getLogger(__name__)

STATUS = {
    errors.Invalid: 400,
    errors.NotAuthenticated: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.TimedOut: 408,
    errors.Conflict: 409,
    errors.Gone: 410,
    errors.OverLimit: 413,
    errors.UnsupportedMedia: 415,
    errors.RangeNotSatisfiable: 416,
    errors.Unexpected: 500,
    errors.Unavailable: 503,
}

# webob's reason phrases, which Glance clients have always seen.
_TITLES = {
    413: "Request Entity Too Large",
    416: "Requested Range Not Satisfiable",
}


def title_for(status_code: int) -> str:
    return _TITLES.get(status_code) or http.HTTPStatus(status_code).phrase


def status_of(exc: errors.GlanceError) -> int:
    for kind in type(exc).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 500


def as_http(exc: errors.GlanceError) -> falcon.HTTPError:
    code = status_of(exc)
    return falcon.HTTPError(code, title=title_for(code), description=exc.message,
                            headers=exc.headers or None)


def handle_domain_error(req: falcon.Request, resp: falcon.Response, exc: errors.GlanceError,
                        params) -> None:
    raise as_http(exc)


def answering_domain_errors(handler):
    """An error handler of our own may itself refuse (a domain error): answered the same."""
    @functools.wraps(handler)
    def wrapped(req, resp, exc, params) -> None:
        try:
            handler(req, resp, exc, params)
        except errors.GlanceError as refusal:
            raise as_http(refusal) from None
    return wrapped


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
    if isinstance(exc, errors.GlanceError):
        raise as_http(exc)
    request_id = getattr(req.context, "request_id", "-")
    LOG.exception("unhandled error", extra={"request_id": request_id})
    raise as_http(errors.Unexpected(f"The server hit an unexpected error; see its log for "
                                    f"request {request_id}."))


def install(app: falcon.App) -> None:
    app.set_error_serializer(serialize_error)
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(errors.GlanceError, handle_domain_error)
