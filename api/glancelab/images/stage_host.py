"""glance-direct across API nodes, as Glance does it: the node that staged an image's data
records its own URL on the image (os_glance_stage_host, hidden from every view), and an
import or a delete of that image reaching another node is replayed to the staging node
with the caller's own identity. A staging node that cannot be reached is a 503 naming it;
a delete then goes on here, and that node removes its stale staged file when it starts.
"""

from __future__ import annotations

import json
import logging
from typing import Callable

import falcon
import requests

from glancelab import errors
from glancelab.db.models import ImageProperty, set_property

LOG = logging.getLogger(__name__)

STAGE_HOST = "os_glance_stage_host"
HIDDEN = frozenset({STAGE_HOST})
# Marks a replayed request: its receiver handles it itself, so no request goes round.
FORWARDED = "X-Glancelab-Forwarded-From"
TIMEOUT_SECONDS = 60  # as Glance's proxy
IDENTITY_HEADERS = ("X-Auth-Token", "X-Identity-Status", "X-Project-Id", "X-User-Id",
                    "X-Roles", "X-Domain-Id", "X-Project-Domain-Id", "X-User-Domain-Id")


class StagedElsewhere(Exception):
    """The request belongs on the node that staged the image (`host`), with `body` (an
    import's JSON). `here` does it on this node instead, for a delete whose staging node
    is gone or failed."""

    def __init__(self, host: str, body: dict | None = None,
                 here: Callable[[], None] | None = None):
        super().__init__(host)
        self.host = host
        self.body = body
        self.here = here


def record(image_id: str, own_url: str | None) -> None:
    """After a stage: this node holds the data (nothing recorded without an own URL)."""
    if own_url:
        set_property(image_id, STAGE_HOST, own_url)


def forget(image_id: str) -> None:
    """The import started: the staged data is being used where it is."""
    ImageProperty.delete().where(ImageProperty.image == image_id,
                                 ImageProperty.name == STAGE_HOST).execute()


def elsewhere(image_id: str, own_url: str | None) -> str | None:
    """The staging node's URL when that is another node."""
    row = (ImageProperty.select(ImageProperty.value)
           .where(ImageProperty.image == image_id, ImageProperty.name == STAGE_HOST).first())
    if row is None or not row.value or row.value.rstrip("/") == (own_url or "").rstrip("/"):
        return None
    return row.value.rstrip("/")


def forward(req: falcon.Request, resp: falcon.Response, exc: StagedElsewhere, params) -> None:
    """Falcon's handler for StagedElsewhere: the same method and path (no query string) on
    the staging node, the same JSON body, the caller's identity; its answer is ours."""
    if req.get_header(FORWARDED):  # the staging node sent it back: two nodes, one URL
        raise errors.unavailable(
            f"Stage host {exc.host} and the node that forwarded this request to it do not "
            "agree which node staged the data: give each node its own "
            "worker_self_reference_url.")
    headers = {name: req.get_header(name) for name in IDENTITY_HEADERS if req.get_header(name)}
    headers[FORWARDED] = req.host or "-"
    body = None
    if exc.body is not None:
        headers["Content-Type"] = "application/json"
        body = json.dumps(exc.body)
    url = f"{exc.host}{req.path}"
    try:
        answer = requests.request(req.method, url, data=body, headers=headers,
                                  timeout=TIMEOUT_SECONDS, allow_redirects=False)
    except requests.RequestException as problem:
        LOG.warning("stage host %s unreachable: %s", exc.host, problem,
                    extra={"request_id": getattr(req.context, "request_id", "-")})
        if exc.here is not None:  # a delete: done here, as Glance does
            exc.here()
            resp.status = falcon.HTTP_204
            return
        raise errors.unavailable(
            f"Stage host {exc.host} is unavailable: this image's data was staged there. "
            "Retry the import when that node is back, or delete the image and stage its "
            "data again.") from None
    if answer.status_code >= 500 and exc.here is not None:
        exc.here()
        resp.status = falcon.HTTP_204
        return
    resp.status = answer.status_code
    if answer.headers.get("Content-Type"):
        resp.content_type = answer.headers["Content-Type"]
    if answer.headers.get("x-openstack-request-id"):  # the staging node's id, as Glance
        req.context.request_id = answer.headers["x-openstack-request-id"]
    resp.data = answer.content
