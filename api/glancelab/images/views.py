"""How images and members look on the wire."""

from __future__ import annotations

import datetime

from glancelab.db.models import (LOCATIONS_OF, PROPERTIES_OF, TAGS_OF, Image, ImageLocation,
                                  ImageMember, ImageProperty, ImageTag)
from glancelab.images import stage_host
from glancelab.runtime import Runtime
from glancelab.identity.context import RequestContext

CORE_FIELDS = ("name", "disk_format", "container_format", "visibility", "size", "virtual_size",
               "status", "checksum", "protected", "min_ram", "min_disk", "owner", "os_hidden",
               "os_hash_algo", "os_hash_value")


def isotime(value: datetime.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


class ImageDetails:
    """Child rows of a batch of images, fetched in one query per table."""

    def __init__(self, images: list[Image], with_locations: bool):
        ids = [image.id for image in images]
        self.properties: dict[str, dict[str, str]] = {i: {} for i in ids}
        self.tags: dict[str, list[str]] = {i: [] for i in ids}
        self.locations: dict[str, list[dict]] = {i: [] for i in ids}
        if len(ids) == 1:
            self._load_one(ids[0], with_locations)
        elif ids:
            self._load_many(ids, with_locations)

    def _load_one(self, image_id: str, with_locations: bool) -> None:
        self.properties[image_id] = dict(PROPERTIES_OF.rows(image_id))
        self.tags[image_id] = [value for (value,) in TAGS_OF.rows(image_id)]
        if with_locations:
            self.locations[image_id] = [{"url": url, "metadata": metadata}
                                        for url, metadata in LOCATIONS_OF.rows(image_id)]

    def _load_many(self, ids: list[str], with_locations: bool) -> None:
        for row in ImageProperty.select().where(ImageProperty.image.in_(ids)).tuples().iterator():
            self.properties[row[1]][row[2]] = row[3]
        for image_id, value in (ImageTag.select(ImageTag.image, ImageTag.value)
                                .where(ImageTag.image.in_(ids))
                                .order_by(ImageTag.id).tuples()):
            self.tags[image_id].append(value)
        if with_locations:
            for image_id, url, metadata in (ImageLocation
                                            .select(ImageLocation.image, ImageLocation.url,
                                                    ImageLocation.metadata)
                                            .where(ImageLocation.image.in_(ids))
                                            .order_by(ImageLocation.position, ImageLocation.id)
                                            .tuples()):
                self.locations[image_id].append({"url": url, "metadata": metadata})


def image_view(image: Image, details: ImageDetails, rt: Runtime,
               ctx: RequestContext | None = None) -> dict:
    properties = details.properties[image.id]
    if rt.protections is not None and ctx is not None:
        properties = rt.protections.readable(ctx, properties)  # the rest look absent
    view: dict = {name: value for name, value in properties.items()
                  if name not in stage_host.HIDDEN}
    for field in CORE_FIELDS:
        view[field] = getattr(image, field)
    view["id"] = image.id
    view["created_at"] = isotime(image.created_at)
    view["updated_at"] = isotime(image.updated_at)
    view["tags"] = details.tags[image.id]
    view["self"] = f"/v2/images/{image.id}"
    view["file"] = f"/v2/images/{image.id}/file"
    view["schema"] = "/v2/schemas/image"
    locations = details.locations[image.id]
    if rt.settings.show_multiple_locations:
        view["locations"] = locations
    if rt.settings.show_image_direct_url and locations:
        view["direct_url"] = locations[0]["url"]
    if rt.stores.multistore:
        stores = [loc["metadata"]["store"] for loc in locations if loc["metadata"].get("store")]
        if stores:
            view["stores"] = ",".join(stores)
    return view


def needs_locations(rt: Runtime) -> bool:
    s = rt.settings
    return s.show_multiple_locations or s.show_image_direct_url or rt.stores.multistore


def render_image(image: Image, rt: Runtime, ctx: RequestContext | None = None) -> dict:
    return image_view(image, ImageDetails([image], needs_locations(rt)), rt, ctx)


def render_images(images: list[Image], rt: Runtime,
                  ctx: RequestContext | None = None) -> list[dict]:
    details = ImageDetails(images, needs_locations(rt))
    return [image_view(image, details, rt, ctx) for image in images]


def member_view(member: ImageMember) -> dict:
    return {
        "member_id": member.member,
        "image_id": member.image_id,
        "status": member.status,
        "created_at": isotime(member.created_at),
        "updated_at": isotime(member.updated_at),
        "schema": "/v2/schemas/member",
    }
