"""Images whose data stays where it is: adding a location to a queued image.

An admin registers data that already exists (a file or block device on the host, an
http(s) URL, an object in a configured Swift or S3 store); the image becomes active
without an upload. Admin-only because a location may point anywhere the service can
read.
"""

from __future__ import annotations

import json

from glancelab import errors, schemas
from glancelab.context import RequestContext
from glancelab.db import database
from glancelab.db.models import Image, ImageLocation, utcnow
from glancelab.runtime import Runtime
from glancelab.services import access, quotas
from glancelab.stores import StoreError, StoreUnavailable

LOCATION_BODY = schemas.image_properties()["locations"]["items"]


def add_location(rt: Runtime, ctx: RequestContext, image_id: str, body) -> Image:
    if not isinstance(body, dict):
        raise errors.bad_request("Request body must be a JSON object with a 'url'.")
    body = {"metadata": {}, **body}
    problem = schemas.first_error_in(LOCATION_BODY, body, "location")
    if problem:
        raise errors.bad_request(problem)
    image = access.get_visible_image(ctx, image_id)
    access.require_admin(ctx, "add_location")
    existing = ImageLocation.select().where(ImageLocation.image == image.id).count()
    quotas.check_count("image locations", existing + 1, rt.quotas.image_location_quota)
    url = body["url"]
    try:
        store = rt.stores.for_location(url, body["metadata"])
        size = store.size_of(url)
    except StoreUnavailable as exc:
        raise errors.unavailable(f"{exc}; retry later.") from exc
    except StoreError as exc:
        raise errors.bad_request(f"Cannot use location {url}: {exc}") from exc
    validation = body.get("validation_data", {})
    metadata = {**body["metadata"], **rt.stores.location_metadata(store)}
    with database.atomic():
        updated = (Image.update(status="active", size=size, updated_at=utcnow(),
                                checksum=validation.get("checksum"),
                                os_hash_algo=validation.get("os_hash_algo"),
                                os_hash_value=validation.get("os_hash_value"))
                   .where(Image.id == image.id, Image.status == "queued").execute())
        if not updated:
            raise errors.conflict(f"Image {image_id} is {image.status}: a location can be "
                                  "added only to a queued image.")
        ImageLocation.create(image=image.id, url=url, metadata=json.dumps(metadata))
    return Image.get(Image.id == image.id)
