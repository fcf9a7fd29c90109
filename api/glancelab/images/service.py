"""Image metadata operations: create, show, update, delete, deactivate, tags."""

from __future__ import annotations

import logging
import uuid

from glancelab import errors
from glancelab.db import statuses
from glancelab.images import schemas
from glancelab.identity.context import RequestContext
from glancelab.db import database
from glancelab.db.models import (LOCATIONS_OF, DeletedImage, Image, ImageLocation,
                                 ImageProperty, ImageTag, utcnow)
from glancelab.runtime import Runtime
from glancelab.identity import access
from glancelab.images import lifecycle, locations, stage_host
from glancelab.images import patch
from glancelab.quotas import service as quotas
from glancelab.images.views import CORE_FIELDS, ImageDetails

LOG = logging.getLogger(__name__)

# Core attributes accepted in a create request body.
CREATE_FIELDS = {"id", "name", "visibility", "protected", "os_hidden", "owner", "container_format",
                 "disk_format", "min_ram", "min_disk", "tags"}


def _check_visibility_change(ctx: RequestContext, visibility: str | None,
                             target: dict) -> None:
    rule = {"public": "publicize_image", "community": "communitize_image"}.get(visibility)
    if rule:
        access.authorize(ctx, rule, target)


def _check_owner_change(ctx: RequestContext, owner) -> None:
    if owner != ctx.project_id and not ctx.is_admin:
        raise errors.forbidden("You are not authorized to set owner: only admins may create "
                               "or give images for another project.")


def _validate(rt: Runtime, document: dict) -> None:
    problem = schemas.first_error("image", document, rt.settings.disk_formats,
                                  rt.settings.container_formats)
    if problem:
        raise errors.bad_request(problem)


def _check_counts(rt: Runtime, document: dict) -> None:
    extra = [key for key in document if key not in CORE_FIELDS and key not in CREATE_FIELDS]
    quotas.check_count("image properties", len(extra), rt.quotas.image_property_quota)
    quotas.check_count("image tags", len(_unique(document.get("tags") or [])),
                       rt.quotas.image_tag_quota)


def _unique(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))


def create_image(rt: Runtime, ctx: RequestContext, body) -> Image:
    if not isinstance(body, dict):
        raise errors.bad_request("Request body must be a JSON object describing the image.")
    for key in body:
        if key not in CREATE_FIELDS:
            patch.check_writable(key)
    _validate(rt, body)
    owner = body.get("owner", ctx.project_id)
    if owner is None:
        # An image owned by nobody could be changed or deleted by no one but admins.
        raise errors.forbidden("The request has no project: images belong to a project, so "
                               "use a project-scoped token (or give owner as an admin).")
    target = {"project_id": ctx.project_id, "owner": owner}
    access.authorize(ctx, "add_image", target)  # members create for their own project
    _check_visibility_change(ctx, body.get("visibility"), target)
    _check_counts(rt, body)
    count_limit = quotas.image_count_limit(rt.quotas, owner)
    image_id = body.get("id") or str(uuid.uuid4())
    now = utcnow()
    image = Image(
        id=image_id.lower(), name=body.get("name"), status=statuses.QUEUED,
        visibility=body.get("visibility", "shared"), protected=body.get("protected", False),
        os_hidden=body.get("os_hidden", False), owner=owner,
        container_format=body.get("container_format"), disk_format=body.get("disk_format"),
        min_ram=body.get("min_ram", 0), min_disk=body.get("min_disk", 0),
        created_at=now, updated_at=now)
    extra = {k: v for k, v in body.items() if k not in CREATE_FIELDS}
    _check_protected(rt, ctx, created=list(extra))
    # With a count limit, creates of one project are decided one at a time.
    with quotas.project_lock(owner) if count_limit is not None else database.atomic():
        quotas.check_image_count(count_limit, owner)
        if (Image.select().where(Image.id == image.id).exists()
                or DeletedImage.select().where(DeletedImage.id == image.id).exists()):
            raise errors.conflict(f"Image with identifier {image.id} already exists!")
        image.save(force_insert=True)
        if extra:
            ImageProperty.insert_many(
                [{"image": image.id, "name": k, "value": v} for k, v in extra.items()]).execute()
        tags = _unique(body.get("tags", []))
        if tags:
            ImageTag.insert_many([{"image": image.id, "value": t} for t in tags]).execute()
    LOG.info("image created", extra={"image_id": image.id, "project_id": ctx.project_id})
    return image


def update_image(rt: Runtime, ctx: RequestContext, image_id: str, document) -> Image:
    changes = patch.parse(document)
    # Identity, the image, the rules, then (for new locations) network I/O, then the write.
    image = access.get_visible_image(ctx, image_id)
    access.authorize_image(ctx, image, "modify_image")
    locations.check_patch_allowed(rt, ctx, image, changes)
    resolved = locations.resolve_patch_values(rt, image, changes)
    with database.atomic():
        image = access.get_visible_image(ctx, image_id)  # as it is now, in the transaction
        details = ImageDetails([image], with_locations=False)
        before = dict(details.properties[image.id])
        if rt.protections is not None:  # properties it may not read look absent, as in Glance
            before = rt.protections.readable(ctx, before)
        before.update({field: getattr(image, field) for field in CORE_FIELDS})
        before["tags"] = details.tags[image.id]
        after = patch.apply(before, [c for c in changes if c.attribute != "locations"])
        for field in ("disk_format", "container_format"):
            # As Glance: the data's format is fixed once there is data.
            if after[field] != before[field] and image.status != statuses.QUEUED:
                raise errors.forbidden(f"Attribute {field} can be only replaced for a queued "
                                       f"image (this one is {image.status}).")
        _validate(rt, after)
        if after["visibility"] != before["visibility"]:
            _check_visibility_change(ctx, after["visibility"],
                                     access.image_target(ctx, image))
        if after["owner"] != before["owner"]:
            _check_owner_change(ctx, after["owner"])
        _check_counts(rt, after)
        _check_property_changes(rt, ctx, before, after)
        _save_changes(image, before, after)
        dropped = locations.apply_patch(rt, image, changes, resolved)
    locations.delete_owned_data(rt, image.id, dropped)
    return image


def _check_property_changes(rt: Runtime, ctx: RequestContext, before: dict,
                            after: dict) -> None:
    core = set(CORE_FIELDS) | {"tags"}
    old = {k: v for k, v in before.items() if k not in core}
    new = {k: v for k, v in after.items() if k not in core}
    _check_protected(rt, ctx, created=[k for k in new if k not in old],
                     updated=[k for k in new if k in old and new[k] != old[k]],
                     deleted=[k for k in old if k not in new])


def _check_protected(rt: Runtime, ctx: RequestContext, **names: list[str]) -> None:
    """403 for the first property the caller may not create, update or delete
    (property_protection_file); Glance's words."""
    if rt.protections is None:
        return
    for kind, operation in (("created", "create"), ("updated", "update"),
                            ("deleted", "delete")):
        for name in names.get(kind, ()):
            if not rt.protections.allows(ctx, name, operation):
                raise errors.forbidden(f"Attribute '{name}' is reserved. (You may not "
                                       f"{operation} it: see property_protection_file.)")


def _save_changes(image: Image, before: dict, after: dict) -> None:
    for field in patch.CORE_WRITABLE - {"tags"}:
        setattr(image, field, after[field])
    image.updated_at = utcnow()
    image.save()
    core = set(CORE_FIELDS) | {"tags"}
    old_props = {k: v for k, v in before.items() if k not in core}
    new_props = {k: v for k, v in after.items() if k not in core}
    removed = [k for k in old_props if k not in new_props]
    if removed:
        ImageProperty.delete().where(ImageProperty.image == image.id,
                                     ImageProperty.name.in_(removed)).execute()
    for name, value in new_props.items():
        if old_props.get(name) != value:
            (ImageProperty.insert(image=image.id, name=name, value=value)
             .on_conflict(conflict_target=[ImageProperty.image, ImageProperty.name],
                          update={ImageProperty.value: value})
             .execute())
    new_tags = _unique(after["tags"])
    if new_tags != before["tags"]:
        ImageTag.delete().where(ImageTag.image == image.id).execute()
        if new_tags:
            ImageTag.insert_many([{"image": image.id, "value": t} for t in new_tags]).execute()


def delete_image(rt: Runtime, ctx: RequestContext, image_id: str) -> None:
    def allowed() -> Image:
        image = access.get_visible_image(ctx, image_id)
        access.authorize_image(ctx, image, "delete_image")
        if image.protected:
            raise errors.forbidden(f"Image {image_id} is protected and cannot be deleted; "
                                   "set protected to false first.")
        return image

    image = allowed()
    host = stage_host.elsewhere(image.id, rt.settings.stage_host)
    if host:  # its staged data is on another node: that node deletes it (and the image)
        raise stage_host.StagedElsewhere(host, here=lambda: _delete_here(rt, ctx, image_id,
                                                                         allowed))
    _delete_here(rt, ctx, image_id, allowed)


def _delete_here(rt: Runtime, ctx: RequestContext, image_id: str, allowed) -> None:
    # Store I/O before the transaction: clones of an rbd snapshot keep the image (409).
    locations.refuse_if_in_use(rt, image_id, list(LOCATIONS_OF.rows(image_id)))
    with database.atomic():
        image = allowed()
        rows = [(row.url, row.metadata) for row in
                ImageLocation.select().where(ImageLocation.image == image.id)]
        if not image.delete_instance(recursive=True):
            # A concurrent DELETE removed it first (it waited on our row lock): one 204.
            raise errors.not_found(f"No image found with ID {image_id}")
        DeletedImage.insert(id=image.id).on_conflict_ignore().execute()
    # Data goes after the metadata: a crash in between leaves an orphan file that the
    # next start removes, never an image pointing at missing data.
    locations.delete_owned_data(rt, image_id, rows)
    if rt.staging is not None:
        rt.staging.discard(image_id)
    if rt.cache is not None:
        rt.cache.delete(image_id, "image deleted")
    LOG.info("image deleted", extra={"image_id": image_id, "project_id": ctx.project_id})


def set_active_state(ctx: RequestContext, image_id: str, deactivate: bool) -> None:
    action = "deactivate" if deactivate else "reactivate"
    with database.atomic():
        image = access.get_visible_image(ctx, image_id)
        access.authorize_image(ctx, image, action)
        lifecycle.set_deactivated(image, deactivate)


def add_tag(rt: Runtime, ctx: RequestContext, image_id: str, tag: str) -> None:
    if not tag or len(tag) > 255:
        raise errors.bad_request("A tag must be 1 to 255 characters long.")
    with database.atomic():
        image = access.get_visible_image(ctx, image_id)
        access.authorize_image(ctx, image, "modify_image")
        if not ImageTag.select().where(ImageTag.image == image.id, ImageTag.value == tag).exists():
            count = ImageTag.select().where(ImageTag.image == image.id).count()
            quotas.check_count("image tags", count + 1, rt.quotas.image_tag_quota)
            ImageTag.create(image=image.id, value=tag)
            Image.update(updated_at=utcnow()).where(Image.id == image.id).execute()


def delete_tag(ctx: RequestContext, image_id: str, tag: str) -> None:
    with database.atomic():
        image = access.get_visible_image(ctx, image_id)
        access.authorize_image(ctx, image, "modify_image")
        deleted = ImageTag.delete().where(ImageTag.image == image.id,
                                          ImageTag.value == tag).execute()
        if not deleted:
            raise errors.not_found(f"Tag {tag} not found on image {image_id}.")
        Image.update(updated_at=utcnow()).where(Image.id == image.id).execute()
