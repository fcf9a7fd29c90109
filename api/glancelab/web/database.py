"""A request and the metadata database: the connection goes back to the pool when the
answer is ready, and the database being down is a 503 that names it, never a 500."""

from __future__ import annotations

import logging

import falcon

from glancelab import errors
from glancelab.db import release
from glancelab.web.errors import as_http

LOG = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "5"


class ReleaseConnection:
    """Runs before a download streams, so a transfer never holds a pooled connection."""

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource,
                         req_succeeded: bool) -> None:
        release()


def unavailable_handler(database_name: str):
    """The error handler for db.UNAVAILABLE: PostgreSQL stopped or restarting, the
    pool busy past pool_timeout, SQLite's file locked or unreadable."""

    def handle(req: falcon.Request, resp: falcon.Response, exc: Exception, params) -> None:
        LOG.warning("metadata database unavailable: %s", str(exc).strip().splitlines()[0]
                    if str(exc).strip() else type(exc).__name__,
                    extra={"request_id": getattr(req.context, "request_id", "-")})
        raise as_http(errors.Unavailable(
            f"The image metadata database ({database_name}) is unavailable, so the "
            "request was not completed; retry it in a few seconds.",
            headers={"Retry-After": RETRY_AFTER_SECONDS}))

    return handle
