"""GET /v2/images: the caller's visible images as index walks merged into one keyset page,
all in SQL (images/list_params.py reads the query parameters)."""

from __future__ import annotations

import dataclasses
import functools
import operator

import peewee
from peewee import fn

from glancelab import errors
from glancelab.db import QueryTimeout, pages, time_bounded
from glancelab.db.models import Image, ImageMember
from glancelab.identity import access
from glancelab.identity.context import RequestContext
from glancelab.images import list_params
from glancelab.runtime import Runtime

@dataclasses.dataclass(frozen=True)
class _SharedWithCaller:
    """The shared images the caller's project is a member of (any member status when
    `status` is None)."""
    project: str
    status: str | None

    def membership(self) -> list:
        conditions = [ImageMember.member == self.project]
        if self.status is not None:
            conditions.append(ImageMember.status == self.status)
        return conditions

    def clause(self):
        return (Image.visibility == "shared") & Image.id.in_(
            ImageMember.select(ImageMember.image).where(*self.membership()))


@dataclasses.dataclass(frozen=True)
class _OwnedByCaller:
    """The caller's project's images (of one visibility, when given)."""
    project: str
    visibility: str | None = None

    def clause(self):
        own = Image.owner == self.project
        return own if self.visibility is None else own & (Image.visibility == self.visibility)


def _visible_parts(ctx: RequestContext, visibility: str | None, member_status: str) -> list:
    """What the caller may list, as alternatives (any one admits an image); [] when
    nothing limits an admin."""
    if ctx.is_admin:
        return [] if visibility in (None, "all") else [Image.visibility == visibility]
    own = _OwnedByCaller(ctx.project_id)
    shared = _SharedWithCaller(ctx.project_id, None if member_status == "all" else member_status)
    if visibility is None:
        return [own, Image.visibility == "public", shared]
    if visibility == "all":
        return [own, Image.visibility == "public", Image.visibility == "community", shared]
    if visibility in ("public", "community"):
        return [Image.visibility == visibility]
    if visibility == "private":
        return [_OwnedByCaller(ctx.project_id, "private")]
    return [_OwnedByCaller(ctx.project_id, "shared"), shared]  # shared


def _either(parts: list) -> list:
    if not parts:
        return []
    clauses = [part.clause() if isinstance(part, (_OwnedByCaller, _SharedWithCaller)) else part
               for part in parts]
    return [functools.reduce(operator.or_, clauses)]


def _having(model: type[peewee.Model], conditions: list):
    return Image.id.in_(model.select(model.image).where(*conditions))


def _also_having(model: type[peewee.Model], conditions: list):
    # EXISTS, not IN, beside a walk: SQLite would otherwise loop over the IN list (every
    # image with the tag) and sort them, instead of checking each image of the walk.
    return fn.EXISTS(model.select(peewee.SQL("1")).where(model.image == Image.id, *conditions))


def _creation_order(keys: list[tuple[str, str]]) -> str | None:
    """The direction when a page is in creation order (Glance's default), else None."""
    if [key for key, _ in keys] == ["created_at", "id"] and keys[0][1] == keys[1][1]:
        return keys[0][1]
    return None


def _copy_order(model: type[peewee.Model], direction: str) -> pages.Sorting:
    """Creation order read from a child table's copy of its image's created_at."""
    return pages.Sorting(((model.image_created_at, direction), (model.image, direction)),
                         anchor_names=("created_at", "id"))


def _walks(keys: list[tuple[str, str]], clauses: list, children: list,
           parts: list) -> list[tuple[peewee.Select, pages.Sorting]]:
    """The queries whose pages, merged, are the page asked for.

    In creation order each kind of visible image (own, public, shared with the caller)
    is its own query, and each query walks one index in that order and stops at the
    page's end, whatever the catalogue's size: the project's own images, the caller's
    shares (their copy of created_at), else the first tag or property asked for (its
    copy), else the image table; any other tag or property is checked on each image
    walked. An OR of them in one query would be planned as a sort of every match. Any
    other order is one query."""
    image_order = pages.Sorting(tuple((getattr(Image, key), direction)
                                      for key, direction in keys))
    direction = _creation_order(keys)
    if direction is None or (not children and len(parts) < 2):
        # (clauses always holds the os_hidden condition, so where() has one at least)
        return [(Image.select().where(*clauses, *[_having(*child) for child in children],
                                      *_either(parts)), image_order)]
    walks = []
    for part in parts or [None]:
        conditions, checked = list(clauses), children
        if isinstance(part, _OwnedByCaller):
            query, order = Image.select(), image_order
            conditions.append(part.clause())
        elif isinstance(part, _SharedWithCaller):
            query = Image.select().join(ImageMember, on=(ImageMember.image == Image.id))
            conditions += [*part.membership(), Image.visibility == "shared"]
            order = _copy_order(ImageMember, direction)
        else:
            if children:
                (model, child_conditions), checked = children[0], children[1:]
                query = Image.select().join(model, on=(model.image == Image.id))
                conditions += child_conditions
                order = _copy_order(model, direction)
            else:
                query, order = Image.select(), image_order
            if part is not None:
                conditions.append(part)
        walks.append((query.where(*conditions, *[_also_having(*child) for child in checked]),
                      order))
    return walks


def list_images(rt: Runtime, ctx: RequestContext, params: dict) -> dict:
    access.authorize(ctx, "get_images")
    limit = pages.limit_of(list_params.single(params, "limit"), rt.settings.limit_param_default,
                           rt.settings.api_limit_max)
    member_status = list_params.single(params, "member_status") or "accepted"
    if member_status not in ("pending", "accepted", "rejected", "all"):
        raise errors.bad_request(f"Invalid status: {member_status}")
    visibility = list_params.single(params, "visibility")
    if visibility and visibility not in ("community", "public", "private", "shared", "all"):
        raise errors.bad_request(f"Invalid visibility value: {visibility}")
    keys = list_params.sorting(params)
    if "id" not in [key for key, _ in keys]:
        keys.append(("id", keys[-1][1]))  # a total order, so pages never overlap
    clauses, children = list_params.filters(params)
    walks = _walks(keys, clauses, children, _visible_parts(ctx, visibility, member_status))
    marker = None
    marker_id = list_params.single(params, "marker")
    if marker_id is not None:
        marker = Image.get_or_none(Image.id == marker_id)
        if marker is None or not access.can_see(ctx, marker):
            raise errors.bad_request(f"marker {marker_id} could not be found.")
    try:
        with time_bounded(rt.settings.list_query_timeout):
            rows, more = pages.read_union(walks, limit, marker)
    except QueryTimeout:
        raise errors.unavailable(f"The image list did not finish within "
                                 f"{rt.settings.list_query_timeout:g} s; use fewer filters, "
                                 "or retry when the database is less busy.") from None
    page = pages.links("/v2/images", params, rows[-1].id if rows else None, more)
    return {"images": rows, **page, "schema": "/v2/schemas/images"}
