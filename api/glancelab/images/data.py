"""Image data over HTTP: PUT /file into a store, GET /file (whole or one range) out of one."""

from __future__ import annotations

import logging
from typing import BinaryIO

from glancelab import errors
from glancelab.db.models import LOCATIONS_OF, Image
from glancelab.db import statuses
from glancelab.identity import access
from glancelab.identity.context import RequestContext
from glancelab.db import UNAVAILABLE
from glancelab.images import lifecycle, settling
from glancelab.images.receive import announced_size, receive
from glancelab.runtime import Runtime
from glancelab.stores import ReadHandle, Store, StoreError, StoreUnavailable

LOG = logging.getLogger(__name__)


def target_store(rt: Runtime, store_id: str | None) -> Store:
    store = rt.stores.default
    if store_id:
        store = rt.stores.get(store_id)
        if store is None or not rt.stores.multistore:
            raise errors.bad_request(f"Store for identifier {store_id} not found; see "
                                     "GET /v2/info/stores for the available stores.")
    if not store.writable:
        raise errors.bad_request(f"Store {store.id} is read-only; choose another store.")
    return store


def upload(rt: Runtime, ctx: RequestContext, image_id: str, stream: BinaryIO,
           content_length: int | None, store_id: str | None = None,
           size_header: str | None = None) -> Image:
    image = access.get_visible_image(ctx, image_id)
    access.authorize_image(ctx, image, "upload_image")
    store = target_store(rt, store_id)
    stored, writer = receive(rt, image, stream, content_length, store, statuses.SAVING,
                             announced_size(size_header), detailed=ctx.is_admin)
    try:
        recorded = lifecycle.store_upload(image.id, writer.holder, writer.facts(stored.size),
                                          stored.url, rt.stores.location_metadata(store))
    except UNAVAILABLE:  # did it commit? known once the database answers again
        settling.settle_later(settling.Unsettled(image.id, writer.holder, statuses.SAVING,
                                                 stored.url, lambda: store.delete(stored.url)))
        raise
    if not recorded:
        # Deleted (or recovered) while we were writing: keep nothing behind.
        store.delete(stored.url)
        raise errors.Gone(f"Image {image_id} was deleted during the upload; "
                                      "its data was discarded.")
    LOG.info("image uploaded", extra={"image_id": image.id, "size": stored.size,
                                      "store": store.id})
    return Image.get(Image.id == image.id)


# -- download -----------------------------------------------------------------------------

class Download:
    def __init__(self, handle: ReadHandle | None, image: Image, first: int = 0,
                 last: int | None = None, partial: bool = False):
        self.handle = handle
        self.image = image
        self.first = first
        self.last = last
        self.partial = partial


# A range that asks for no bytes at all (bytes=-0): never satisfiable.
NO_BYTES = (1, 0)


def byte_positions(byte_range: tuple[int, int], size: int) -> tuple[int, int]:
    """(first, last), inclusive, of a range as Falcon parses it: (-n, -1) is the last n
    bytes, (n, -1) runs to the end."""
    first, last = byte_range
    if byte_range == NO_BYTES:
        raise unsatisfiable("bytes=-0", size)
    if first < 0:
        return max(size + first, 0), size - 1
    if first >= size:
        raise unsatisfiable(f"bytes={first}-", size)
    return first, size - 1 if last < 0 else min(last, size - 1)


def unsatisfiable(header: str, size: int) -> errors.GlanceError:
    return errors.RangeNotSatisfiable(f"Requested range {header} is not satisfiable: the image "
                                   f"has {size} bytes.", headers={"Content-Range": f"bytes */{size}"})


def preferred_stores(rt: Runtime, prefer: str | None) -> list[str]:
    """?prefer=a,b of a download: store ids, blanks dropped, each one this API has."""
    wanted = [store_id.strip() for store_id in (prefer or "").split(",") if store_id.strip()]
    if wanted and not rt.stores.multistore:
        raise errors.bad_request("prefer names stores, but this API has a single store "
                                 "(enabled_backends is not set).")
    for store_id in wanted:
        if store_id not in rt.stores.stores:
            raise errors.bad_request(f"Store for identifier {store_id} not found; see GET "
                                     "/v2/info/stores.")
    return wanted


def open_download(rt: Runtime, ctx: RequestContext, image_id: str,
                  byte_range: tuple[int, int] | None, prefer: str | None = None) -> Download:
    image = access.get_visible_image(ctx, image_id)
    access.authorize_image(ctx, image, "download_image")
    if prefer is not None:
        access.authorize_image(ctx, image, "download_from_store")
    preferred = preferred_stores(rt, prefer)
    if image.status == statuses.DEACTIVATED and not ctx.is_admin:
        raise errors.forbidden("The requested image has been deactivated. Image data download "
                               "is forbidden.")
    locations = LOCATIONS_OF.rows(image.id)
    if preferred:  # the preferred stores' copies first, in the order asked; then the rest
        rank = {store_id: index for index, store_id in enumerate(preferred)}
        locations = sorted(locations, key=lambda row: rank.get(
            (row[1] or {}).get("store"), len(rank)))
    if image.status not in statuses.READABLE or not locations:
        return Download(None, image)  # no data yet: 204
    url, metadata = locations[0]
    size = image.size or 0
    first, last, partial = 0, size - 1, False
    if byte_range is not None:
        first, last = byte_positions(byte_range, size)
        partial = True
    active = image.status == statuses.ACTIVE
    if rt.cache is not None and active:
        cached = rt.cache.open_cached(image.id, image.size, image.checksum)
        if cached is not None:
            cached.seek(first)
            return Download(ReadHandle(length=last - first + 1, file=cached), image, first,
                            last, partial)
    handle = open_store_data(rt, url, metadata, first, last - first + 1, ctx.is_admin)
    if rt.cache is not None and active and not partial:
        handle = rt.cache.fill_while_serving(image.id, image.size, image.checksum, handle)
    return Download(handle, image, first, last, partial)


def open_store_data(rt: Runtime, url: str, metadata: dict, offset: int, length: int,
                    detailed: bool = True) -> ReadHandle:
    """The data at a location; a 503 naming the store (its details only if `detailed`)."""
    store = rt.stores.for_location(url, metadata)
    try:
        return store.open(url, offset=offset, length=length)
    except StoreError as exc:  # unreachable, or data missing or unreadable: the store's fault
        LOG.warning("reading image data failed", extra={"store": store.id, "error": str(exc)})
        later = ("retry later" if isinstance(exc, StoreUnavailable)
                 else "the image's data cannot be read now")
        raise errors.unavailable(f"{exc.shown(store.id, detailed)}; {later}.") from exc
