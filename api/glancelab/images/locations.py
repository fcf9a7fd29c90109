"""Images whose data stays where it is: the locations of an image.

An admin registers data that already exists (a file or block device on the host, an
http(s) URL, an object in a configured Swift or S3 store) with POST .../locations, or edits
the list with JSON-patch on /locations when show_multiple_locations is on. A queued image
given a location becomes active without an upload. Admin-only because a location may
point anywhere the service can read.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import stat
import urllib.parse

from glancelab import errors
from glancelab.db import statuses
from glancelab.images import lifecycle, schemas
from glancelab.identity.context import RequestContext
from glancelab.db import database
from glancelab.db.models import LOCATIONS_OF, Image, ImageLocation
from glancelab.runtime import Runtime
from glancelab.identity import access
from glancelab.quotas import service as quotas
from glancelab.images.patch import Change
from glancelab.stores import Store, StoreError, StoreUnavailable

LOG = logging.getLogger(__name__)

LOCATION_BODY = schemas.image_properties()["locations"]["items"]


@dataclasses.dataclass
class Resolved:
    """A location checked against the stores: who reads it and how big it is."""
    url: str
    metadata: dict
    size: int
    validation: dict


def resolve(rt: Runtime, body, what: str = "location",
            own_urls: frozenset[str] = frozenset()) -> Resolved:
    """A location checked and sized; own_urls are the image's current ones (kept as is)."""
    if not isinstance(body, dict):
        raise errors.bad_request(f"A {what} must be a JSON object with a 'url'.")
    body = {"metadata": {}, **body}
    problem = schemas.first_error_in(LOCATION_BODY, body, what)
    if problem:
        raise errors.bad_request(problem)
    url = body["url"]
    if url.startswith("file:"):
        url = confined_file_url(rt, url)
    try:
        store = rt.stores.for_location(url, body["metadata"])
        if url not in own_urls and store.owns(url):
            # Its delete would destroy the image that wrote it.
            raise errors.bad_request(f"{url} is data store {store.id} wrote for an image: "
                                     "another image's data cannot be a location.")
        size = store.size_of(url)
    except StoreUnavailable as exc:
        raise errors.unavailable(f"{exc}; retry later.") from exc
    except StoreError as exc:
        raise errors.bad_request(f"Cannot use location {url}: {exc}") from exc
    metadata = {**body["metadata"], **rt.stores.location_metadata(store)}
    return Resolved(url, metadata, size, body.get("validation_data") or {})


def confined_file_url(rt: Runtime, url: str) -> str:
    """A file:// location only on this host, only under [glancelab] file_location_dirs and
    never into a store's own data; the same answer whether or not the file exists."""
    allowed = rt.settings.file_location_dirs
    parts = urllib.parse.urlsplit(url)
    if parts.netloc not in ("",):
        raise errors.bad_request(f"file:// locations name a file on this host: drop the host "
                                 f"part {parts.netloc!r}.")
    path = os.path.normpath(urllib.parse.unquote(parts.path))
    refusal = errors.bad_request(
        f"file:// locations may point only into [glancelab] file_location_dirs "
        f"({', '.join(allowed) or 'none configured, so file:// is off'}); {path} is not "
        "inside one.")
    if not allowed or not _inside(path, allowed):
        raise refusal
    real = os.path.realpath(path)
    # An LVM volume is a symlink into /dev (/dev/VG/LV -> /dev/dm-N): a block device is
    # fine; any other target must itself be inside an allowed directory.
    if real != path and not _inside(real, allowed) and not _is_block_device(real):
        raise refusal
    for store in rt.stores.stores.values():
        for directory, _ in getattr(store, "datadirs", ()):
            if _inside(real, (os.path.realpath(directory),)):
                raise errors.bad_request(f"{path} is inside store {store.id}'s own data: "
                                         "another image's data cannot be a location.")
    return "file://" + urllib.parse.quote(path)


def _inside(path: str, directories) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in directories)


def _is_block_device(path: str) -> bool:
    try:
        return stat.S_ISBLK(os.stat(path).st_mode)
    except OSError:
        return False


def list_locations(ctx: RequestContext, image_id: str) -> list[dict]:
    """GET /v2/images/{id}/locations: Glance's fetch_image_location, for services and admins."""
    image = access.get_image_for(ctx, image_id, "fetch_image_location")
    return [{"url": url, "metadata": metadata}
            for url, metadata in LOCATIONS_OF.rows(image.id)]


def add_location(rt: Runtime, ctx: RequestContext, image_id: str, body) -> Image:
    # Who, which image, may they, is it queued: all before the URL is touched.
    image = access.get_visible_image(ctx, image_id)
    access.authorize_image(ctx, image, "add_image_location")
    if image.status != statuses.QUEUED:
        raise errors.conflict(f"Image {image_id} is {image.status}: a location can be "
                              "added only to a queued image.")
    existing = ImageLocation.select().where(ImageLocation.image == image.id).count()
    quotas.check_count("image locations", existing + 1, rt.quotas.image_location_quota)
    resolved = resolve(rt, body)
    with database.atomic():
        if not _activate(image.id, resolved):
            raise errors.conflict(f"Image {image_id} is {image.status}: a location can be "
                                  "added only to a queued image.")
        ImageLocation.create(image=image.id, url=resolved.url,
                             metadata=resolved.metadata)
    return Image.get(Image.id == image.id)


def _activate(image_id: str, resolved: Resolved) -> bool:
    """queued -> active with the location's size; False when the image is not queued."""
    validation = resolved.validation
    return lifecycle.activate_with_location(image_id, lifecycle.DataFacts(
        size=resolved.size, checksum=validation.get("checksum"),
        os_hash_algo=validation.get("os_hash_algo"),
        os_hash_value=validation.get("os_hash_value")))


# -- JSON-patch on /locations -------------------------------------------------------------

def check_patch_allowed(rt: Runtime, ctx: RequestContext, image: Image,
                        changes: list[Change]) -> None:
    if not any(change.attribute == "locations" for change in changes):
        return
    if not rt.settings.show_multiple_locations:
        raise errors.forbidden("It's not allowed to change locations if locations are "
                               "invisible: set show_multiple_locations = true.")
    access.authorize_image(ctx, image, "set_image_location")


def resolve_patch_values(rt: Runtime, image: Image,
                         changes: list[Change]) -> dict[int, list[Resolved]]:
    """Check every new location (network I/O) before the transaction that applies them."""
    resolved: dict[int, list[Resolved]] = {}
    own = frozenset(url for url, _ in LOCATIONS_OF.rows(image.id))
    for position, change in enumerate(changes):
        if change.attribute != "locations" or change.op == "remove":
            continue
        if change.index is None:  # replace /locations: a whole list
            if not isinstance(change.value, list):
                raise errors.bad_request("replace /locations needs a list of locations.")
            resolved[position] = [resolve(rt, item, own_urls=own) for item in change.value]
        else:
            resolved[position] = [resolve(rt, change.value, own_urls=own)]
    return resolved


def apply_patch(rt: Runtime, image: Image, changes: list[Change],
                resolved: dict[int, list[Resolved]]) -> list[tuple[str, dict]]:
    """Apply location changes inside the caller's transaction; returns URLs dropped."""
    rows = list(ImageLocation.select().where(ImageLocation.image == image.id)
                .order_by(ImageLocation.position, ImageLocation.id))
    current = [Resolved(row.url, row.metadata, image.size or 0, {}) for row in rows]
    before = list(current)
    touched = False
    for position, change in enumerate(changes):
        if change.attribute != "locations":
            continue
        touched = True
        if change.op == "remove":
            if change.index >= len(current):
                raise errors.bad_request(f"Invalid location index {change.index}: the image "
                                         f"has {len(current)} location(s).")
            current.pop(change.index)
            continue
        new = resolved[position]
        if change.index is None:
            current = new
        else:
            index = len(current) if change.index == -1 else change.index
            if index > len(current):
                raise errors.bad_request(f"Invalid location index {change.index}: the image "
                                         f"has {len(current)} location(s).")
            current[index:index] = new
    if not touched:
        return []
    _check_consistent(rt, image, current)
    if image.status == statuses.QUEUED and current:
        _activate(image.id, current[0])
        image.status, image.size = statuses.ACTIVE, current[0].size
    elif image.status == statuses.ACTIVE and not current:
        raise errors.forbidden("Cannot remove last location in the image; delete the image "
                               "instead.")
    ImageLocation.delete().where(ImageLocation.image == image.id).execute()
    if current:
        ImageLocation.insert_many([
            {"image": image.id, "url": loc.url, "metadata": loc.metadata,
             "position": index} for index, loc in enumerate(current)]).execute()
    kept = {loc.url for loc in current}
    return [(loc.url, loc.metadata) for loc in before if loc.url not in kept]


def _check_consistent(rt: Runtime, image: Image, locations: list[Resolved]) -> None:
    urls = [loc.url for loc in locations]
    duplicates = sorted({url for url in urls if urls.count(url) > 1})
    if duplicates:
        raise errors.bad_request(f"Location {duplicates[0]} is listed twice.")
    quotas.check_count("image locations", len(locations), rt.quotas.image_location_quota)
    if image.status not in (statuses.QUEUED, statuses.ACTIVE):
        raise errors.conflict(f"Image {image.id} is {image.status}: locations can be changed "
                              "only on a queued or active image.")
    sizes = {loc.size for loc in locations}
    expected = image.size if image.status == statuses.ACTIVE else None
    if len(sizes) > 1 or (expected is not None and sizes and sizes != {expected}):
        raise errors.bad_request("Every location of an image must hold the same data: sizes "
                                 f"differ ({', '.join(str(s) for s in sorted(sizes))} bytes"
                                 + (f", image has {expected}" if expected is not None else "")
                                 + ").")


def refuse_if_in_use(rt: Runtime, image_id: str, locations: list[tuple[str, dict]]) -> None:
    """409 before anything goes when a store says its data is used elsewhere (rbd clones)."""
    for url, metadata in locations:
        try:
            reason = rt.stores.for_location(url, metadata).in_use(url)
        except StoreUnavailable as exc:
            raise errors.unavailable(f"{exc}; nothing was deleted, retry later.") from exc
        except StoreError:
            continue  # unreadable data does not keep an image alive
        if reason:
            raise errors.conflict(f"Image {image_id} could not be deleted because it is in "
                                  f"use: {reason}.")


def delete_owned_data(rt: Runtime, image_id: str, locations: list[tuple[str, dict]]) -> None:
    """Remove the data of dropped locations that live in one of our stores.

    Data registered from elsewhere (a snapshot file, a web server) is not ours to delete.
    """
    for url, metadata in locations:
        try:
            store: Store = rt.stores.for_location(url, metadata)
            if store.owns(url):
                store.delete(url)
        except Exception:  # noqa: BLE001 - metadata is already consistent; recovery sweeps
            LOG.exception("could not delete image data", extra={"image_id": image_id,
                                                                "url": url})
