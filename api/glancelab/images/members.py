"""Image members: sharing a 'shared' image with other projects."""

from __future__ import annotations

from glancelab import errors
from glancelab.images import schemas
from glancelab.identity.context import RequestContext
from glancelab.db import database
from glancelab.db.models import ImageMember, utcnow
from glancelab.identity import access
from glancelab.quotas import service as quotas


def _body(kind: str, body) -> dict:
    problem = schemas.first_error(kind, body)
    if problem:
        raise errors.bad_request(problem)
    return body


def _member_not_found(image_id: str, member_id: str):
    return errors.not_found(f"{member_id} is not a member of image {image_id}.")


def add_member(ctx: RequestContext, image_id: str, body, member_quota: int) -> ImageMember:
    member_id = _body("member_create", body)["member"]
    with database.atomic():
        image = access.get_visible_image(ctx, image_id)
        access.authorize_image(ctx, image, "add_member")
        if image.visibility != "shared":
            raise errors.forbidden(f"Image {image_id} has visibility {image.visibility}: only "
                                   "shared images have members; set visibility to shared first.")
        if ImageMember.get_or_none(ImageMember.image == image.id,
                                   ImageMember.member == member_id):
            raise errors.conflict(f"Member {member_id} already exists for image {image_id}.")
        quotas.check_count("image members",
                           ImageMember.select().where(ImageMember.image == image.id).count() + 1,
                           member_quota)
        return ImageMember.create(image=image.id, member=member_id, status="pending")


def list_members(ctx: RequestContext, image_id: str) -> list[ImageMember]:
    image = access.get_visible_image(ctx, image_id)
    access.authorize_image(ctx, image, "get_members")
    if image.visibility != "shared":
        # As Glance: a private (or public, community) image has no member list to show.
        raise errors.forbidden(f"Image {image_id} has visibility {image.visibility}: only "
                               "shared images have members.")
    query = ImageMember.select().where(ImageMember.image == image.id).order_by(ImageMember.id)
    if not (ctx.is_admin or access.is_owner(ctx, image)):
        # A member sees only its own membership.
        query = query.where(ImageMember.member == ctx.project_id)
    return list(query)


def get_member(ctx: RequestContext, image_id: str, member_id: str) -> ImageMember:
    image = access.get_visible_image(ctx, image_id)
    access.authorize_image(ctx, image, "get_member")
    if not (ctx.is_admin or access.is_owner(ctx, image) or member_id == ctx.project_id):
        raise _member_not_found(image_id, member_id)
    member = ImageMember.get_or_none(ImageMember.image == image.id,
                                     ImageMember.member == member_id)
    if member is None:
        raise _member_not_found(image_id, member_id)
    return member


def update_member(ctx: RequestContext, image_id: str, member_id: str, body) -> ImageMember:
    status = _body("member_update", body)["status"]
    with database.atomic():
        image = access.get_visible_image(ctx, image_id)
        member = ImageMember.get_or_none(ImageMember.image == image.id,
                                         ImageMember.member == member_id)
        if member is None:
            raise _member_not_found(image_id, member_id)
        # The member project itself, or an admin for it, as Glance allows.
        access.authorize_image(ctx, image, "modify_member", member_id=member_id)
        member.status = status
        member.updated_at = utcnow()
        member.save()
        return member


def delete_member(ctx: RequestContext, image_id: str, member_id: str) -> None:
    with database.atomic():
        image = access.get_visible_image(ctx, image_id)
        access.authorize_image(ctx, image, "delete_member")
        deleted = ImageMember.delete().where(ImageMember.image == image.id,
                                             ImageMember.member == member_id).execute()
        if not deleted:
            raise _member_not_found(image_id, member_id)
