"""Who may see and change what: each check is a Glance policy rule (identity/policy.py).

An image the caller may not see is reported as missing (404), never as forbidden; one it
sees but may not change answers 403 naming the rule, as Glance does.
"""

from __future__ import annotations

from glancelab import errors
from glancelab.db.models import IMAGE_BY_ID, Image, ImageMember
from glancelab.identity.context import RequestContext


def authorize(ctx: RequestContext, rule: str, target: dict | None = None) -> None:
    """403 unless the rule allows it; without a target, the target is the caller's project."""
    if not ctx.allows(rule, target if target is not None else {"project_id": ctx.project_id}):
        raise errors.forbidden(f"You are not authorized to complete {rule} action.")


def membership(image: Image, project_id: str | None) -> ImageMember | None:
    if not project_id:
        return None
    return ImageMember.get_or_none(ImageMember.image == image.id,
                                   ImageMember.member == project_id)


def image_target(ctx: RequestContext, image: Image, member: ImageMember | None = None) -> dict:
    """What Glance's ImageTarget gives a rule: the owner as project_id, and member_id when
    the caller's project is a member of the (shared) image."""
    if member is None and image.visibility == "shared" and image.owner != ctx.project_id:
        member = membership(image, ctx.project_id)
    return {"project_id": image.owner, "owner": image.owner, "visibility": image.visibility,
            "image_id": image.id, "member_id": member.member if member else None}


def can_see(ctx: RequestContext, image: Image) -> bool:
    """Glance's visibility (what its database returns), then the get_image rule."""
    if ctx.is_admin or (image.owner is not None and image.owner == ctx.project_id):
        member = None
    elif image.visibility in ("public", "community"):
        member = None
    elif image.visibility == "shared":
        # A member project sees a shared image whatever its member status.
        member = membership(image, ctx.project_id)
        if member is None:
            return False
    else:
        return False
    return ctx.allows("get_image", image_target(ctx, image, member))


def get_visible_image(ctx: RequestContext, image_id: str) -> Image:
    found = IMAGE_BY_ID.models(Image, image_id)
    image = found[0] if found else None
    if image is None or not can_see(ctx, image):
        raise errors.image_not_found(image_id)
    return image


def get_image_for(ctx: RequestContext, image_id: str, rule: str) -> Image:
    """The image for a rule that holds whatever the image's visibility (the service role's
    fetch_image_location, as Glance serves Nova and Cinder): found if the caller sees it
    or the rule allows the caller on it; 404 otherwise, 403 if seen but not allowed."""
    found = IMAGE_BY_ID.models(Image, image_id)
    image = found[0] if found else None
    if image is None:
        raise errors.image_not_found(image_id)
    if not ctx.allows(rule, image_target(ctx, image)):
        if not can_see(ctx, image):
            raise errors.image_not_found(image_id)
        authorize_image(ctx, image, rule)
    return image


def authorize_image(ctx: RequestContext, image: Image, rule: str, **target) -> None:
    """An image rule (modify_image, upload_image, deactivate …) against that image."""
    authorize(ctx, rule, {**image_target(ctx, image), **target})


def is_owner(ctx: RequestContext, image: Image) -> bool:
    return image.owner is not None and image.owner == ctx.project_id
