"""Who may see and change an image: Glance's secure-RBAC defaults.

Readers read; members of the owning project write; admins do anything. An image the
caller may not see is reported as missing (404), never as forbidden.
"""

from __future__ import annotations

from glancelab import errors
from glancelab.identity.context import RequestContext
from glancelab.db.models import IMAGE_BY_ID, Image, ImageMember


def membership(image: Image, project_id: str | None) -> ImageMember | None:
    if not project_id:
        return None
    return ImageMember.get_or_none(ImageMember.image == image.id,
                                   ImageMember.member == project_id)


def can_see(ctx: RequestContext, image: Image) -> bool:
    if ctx.is_admin or (image.owner is not None and image.owner == ctx.project_id):
        return True
    if image.visibility in ("public", "community"):
        return True
    # A member project sees a shared image whatever its member status.
    return image.visibility == "shared" and membership(image, ctx.project_id) is not None


def get_visible_image(ctx: RequestContext, image_id: str) -> Image:
    require_reader(ctx)
    found = IMAGE_BY_ID.models(Image, image_id)
    image = found[0] if found else None
    if image is None or not can_see(ctx, image):
        raise errors.image_not_found(image_id)
    return image


def require_reader(ctx: RequestContext) -> None:
    if not ctx.can_read:
        raise errors.forbidden("You are not authorized to complete this action: the request "
                               "has none of the roles reader, member or admin.")


def require_writer(ctx: RequestContext, action: str) -> None:
    if not ctx.can_write:
        raise errors.forbidden(f"You are not authorized to complete {action} action: "
                               "it needs the member or admin role.")


def is_owner(ctx: RequestContext, image: Image) -> bool:
    return image.owner is not None and image.owner == ctx.project_id


def require_modify(ctx: RequestContext, image: Image, action: str) -> None:
    """Owner members or admins change an image; others that can see it get 403."""
    require_writer(ctx, action)
    if not (ctx.is_admin or is_owner(ctx, image)):
        raise errors.forbidden(f"You are not authorized to complete {action} action: "
                               f"image {image.id} belongs to another project.")


def require_admin(ctx: RequestContext, action: str) -> None:
    if not ctx.is_admin:
        raise errors.forbidden(f"You are not authorized to complete {action} action: "
                               "it is allowed to admins only.")
