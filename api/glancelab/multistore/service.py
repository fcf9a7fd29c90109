"""Multi-store information and per-store deletion."""

from __future__ import annotations

import logging

import peewee

from glancelab import errors
from glancelab.db import statuses
from glancelab.identity.context import RequestContext
from glancelab.db import QueryTimeout, database, time_bounded
from glancelab.db.models import ImageLocation, utcnow, Image
from glancelab.runtime import Runtime
from glancelab.identity import access
from glancelab.images import locations

LOG = logging.getLogger(__name__)


def _require_multistore(rt: Runtime) -> None:
    if not rt.stores.multistore:
        raise errors.not_found("Multi backend is not supported at this site: set "
                               "enabled_backends in glance-api.conf to use several stores.")


def list_stores(rt: Runtime, ctx: RequestContext, detail: bool) -> dict:
    _require_multistore(rt)
    if detail:
        access.authorize(ctx, "stores_info_detail")
    stores = []
    for store in rt.stores.stores.values():
        entry: dict = {"id": store.id}
        if store.description:
            entry["description"] = store.description
        if store.id == rt.stores.default_id:
            entry["default"] = "true"
        if not store.writable:
            entry["read-only"] = "true"
        if detail:
            entry.update({"type": store.type, "properties": store.properties(),
                          "weight": rt.stores.weights.get(store.id, 0)})
        stores.append(entry)
    return {"stores": stores}


def store_usage(rt: Runtime, seconds: float = 2.0) -> dict[str, dict] | None:
    """How many images each store holds and their bytes (an image in two stores counts in
    each; a location that names no store is the default store's), or None when the
    catalogue is too large to count within `seconds`. For admins' eyes: it reads every
    location."""
    postgres = isinstance(database.obj, peewee.PostgresqlDatabase)
    store = "(metadata::json ->> 'store')" if postgres else "json_extract(metadata, '$.store')"
    locations, images = ImageLocation._meta.table_name, Image._meta.table_name
    usage = {store_id: {"images": 0, "bytes": 0} for store_id in rt.stores.stores}
    try:
        with time_bounded(seconds):
            rows = database.execute_sql(
                f"SELECT s.store, COUNT(*), COALESCE(SUM(i.size), 0) FROM "
                f"(SELECT DISTINCT image_id, {store} AS store FROM {locations}) s "
                f"JOIN {images} i ON i.id = s.image_id GROUP BY s.store").fetchall()
    except QueryTimeout:
        return None
    for store_id, count, size in rows:
        entry = usage.setdefault(store_id or rt.stores.default_id, {"images": 0, "bytes": 0})
        entry["images"] += count
        entry["bytes"] += int(size)
    return usage


def delete_from_store(rt: Runtime, ctx: RequestContext, store_id: str, image_id: str) -> None:
    _require_multistore(rt)
    store = rt.stores.get(store_id)
    if store is None:
        raise errors.not_found(f"Unknown store {store_id}; see GET /v2/info/stores.")
    image = access.get_visible_image(ctx, image_id)
    access.authorize_image(ctx, image, "delete_image_location")
    locations.refuse_if_in_use(rt, image_id, [
        (row.url, row.metadata) for row in ImageLocation.select().where(
            ImageLocation.image == image.id) if row.metadata.get("store") == store_id])
    with database.atomic():
        image = access.get_visible_image(ctx, image_id)
        access.authorize_image(ctx, image, "delete_image_location")
        if image.status != statuses.ACTIVE:
            raise errors.conflict(f"It's not allowed to remove image data from store if image "
                                  f"status is not 'active' (it is '{image.status}').")
        rows = list(ImageLocation.select().where(ImageLocation.image == image.id))
        mine = [row for row in rows if row.metadata.get("store") == store_id]
        if not mine:
            raise errors.not_found(f"Image {image_id} has no data in store {store_id}.")
        if len(mine) == len(rows):
            # 403, as Glance answers: the request is refused, not in conflict with a state.
            raise errors.forbidden(f"Cannot delete image data from the only store containing "
                                   f"it: store {store_id} holds the only copy of image "
                                   f"{image_id}; delete the image instead.")
        ImageLocation.delete().where(ImageLocation.id.in_([row.id for row in mine])).execute()
        Image.update(updated_at=utcnow()).where(Image.id == image.id).execute()
    for row in mine:
        if not store.owns(row.url):
            continue  # a registered location (a host file, a web URL): not ours to delete
        try:
            store.delete(row.url)
        except Exception:  # noqa: BLE001 - the location is gone; recovery sweeps the data
            LOG.exception("could not delete image data", extra={"image_id": image_id,
                                                                "store": store_id})
