"""Quotas: Glance's legacy options and per-project limits with Glance's names.

Storage is enforced by reservation: an upload holds a grant of bytes against its
project (Image.reserved), taken under a per-project lock and extended as the stream
grows, so an upload stops at the byte that crosses the limit and parallel uploads of
one project cannot together exceed it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math

import peewee

from glancelab import errors
from glancelab.conf import Config, options
from glancelab.db import briefly, database
from glancelab.db.models import Image, ProjectLimit, utcnow
from glancelab.db import statuses
from glancelab.quotas.keystone_limits import KeystoneLimits

MiB = 1024 * 1024
UNLIMITED = -1
RESOURCES = options.LIMIT_RESOURCES
UPLOADING_STATUSES = statuses.WRITING + (statuses.IMPORTING,)
GRANT_STEP = 16 * MiB  # how much more an upload asks for at a time
EXACT_BELOW = 64 * GRANT_STEP  # closer than this to a limit, grants are exact


@dataclasses.dataclass(frozen=True)
class QuotaSettings:
    user_storage_quota: int  # bytes, 0 = unlimited (Glance's legacy option)
    image_member_quota: int
    image_property_quota: int
    image_tag_quota: int
    image_location_quota: int
    unified: bool  # use_keystone_limits: per-project limits on
    defaults: tuple[tuple[str, int], ...]
    # Where per-project limits come from with use_keystone_limits: Keystone when
    # [oslo_limit] names an endpoint, else glancelab's own /v2/quotas table.
    keystone: KeystoneLimits | None = None

    @classmethod
    def from_config(cls, config: Config) -> "QuotaSettings":
        defaults = tuple((resource, config.glancelab_limits[resource]) for resource in RESOURCES)
        return cls(
            user_storage_quota=config.user_storage_quota,
            image_member_quota=config.image_member_quota,
            image_property_quota=config.image_property_quota,
            image_tag_quota=config.image_tag_quota,
            image_location_quota=config.image_location_quota,
            unified=config.use_keystone_limits,
            defaults=defaults,
            keystone=KeystoneLimits(config) if config.use_keystone_limits and
            _names_an_endpoint(config) else None)


def _names_an_endpoint(config: Config) -> bool:
    section = {entry.key for entry in config.entries if entry.section == "oslo_limit"}
    return bool(section & {"endpoint_id", "endpoint_service_type", "endpoint_service_name"})


# -- limits and usage ---------------------------------------------------------------------

def limits_for(settings: QuotaSettings, project_id: str) -> dict[str, int]:
    if settings.keystone is not None:
        return settings.keystone.limits(project_id, RESOURCES)
    limits = dict(settings.defaults)
    for row in ProjectLimit.select().where(ProjectLimit.project_id == project_id):
        limits[row.resource] = row.limit
    return limits


def used_bytes(project_id: str) -> int:
    return (Image.select(peewee.fn.COALESCE(
        peewee.fn.SUM(peewee.fn.COALESCE(Image.size, 0) + Image.reserved), 0))
        .where(Image.owner == project_id).scalar()) or 0


def staged_bytes(project_id: str) -> int:
    """Bytes waiting in staging for an import (what image_stage_total limits)."""
    return (Image.select(peewee.fn.COALESCE(peewee.fn.SUM(Image.reserved), 0))
            .where(Image.owner == project_id,
                   Image.status.in_(statuses.AWAITING_IMPORT)).scalar()) or 0


def usage_for(project_id: str) -> dict[str, int]:
    counts = (Image.select(peewee.fn.COUNT(Image.id),
                           peewee.fn.SUM(peewee.Case(None, [(Image.status.in_(UPLOADING_STATUSES), 1)], 0)))
              .where(Image.owner == project_id).tuples().first())
    return {
        "image_size_total": math.ceil(used_bytes(project_id) / MiB),
        "image_stage_total": math.ceil(staged_bytes(project_id) / MiB),
        "image_count_total": counts[0] or 0,
        "image_count_uploading": counts[1] or 0,
    }


def usage_document(settings: QuotaSettings, project_id: str) -> dict:
    """GET /v2/info/usage, in Glance's shape (empty when per-project limits are off)."""
    if not settings.unified:
        return {"usage": {}}
    limits, usage = limits_for(settings, project_id), usage_for(project_id)
    return {"usage": {r: {"limit": limits[r], "usage": usage[r]} for r in RESOURCES}}


PROJECT_ID_MAX = ProjectLimit.project_id.max_length


def set_limits(project_id: str, values: dict[str, int | None]) -> None:
    """Per-project overrides; None removes an override (back to the default)."""
    if not project_id or len(project_id) > PROJECT_ID_MAX:
        raise errors.bad_request(f"A project id is 1 to {PROJECT_ID_MAX} characters long.")
    for resource, value in values.items():
        if resource not in RESOURCES:
            raise errors.bad_request(f"Unknown limit {resource}; use one of {', '.join(RESOURCES)}.")
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or value < UNLIMITED):
            raise errors.bad_request(f"{resource} must be an integer >= -1 (-1 is unlimited).")
    with database.atomic():
        for resource, value in values.items():
            ProjectLimit.delete().where(ProjectLimit.project_id == project_id,
                                        ProjectLimit.resource == resource).execute()
            if value is not None:
                ProjectLimit.create(project_id=project_id, resource=resource, limit=value,
                                    updated_at=utcnow())


def projects_with_limits() -> list[str]:
    return [row.project_id for row in ProjectLimit.select(ProjectLimit.project_id).distinct()
            .order_by(ProjectLimit.project_id)]


# -- counted things -------------------------------------------------------------------------

def check_count(name: str, attempted: int, maximum: int) -> None:
    """Legacy per-image quotas (properties, tags, members, locations); -1 is unlimited."""
    if maximum >= 0 and attempted > maximum:
        raise errors.too_large(f"Maximum number of {name} exceeded ({name.replace(' ', '_')} "
                               f"quota). Attempted: {attempted}, Maximum: {maximum}")


def image_count_limit(settings: QuotaSettings, project_id: str) -> int | None:
    """The project's image_count_total, read before any lock is taken (it may ask Keystone)."""
    if not settings.unified:
        return None
    limit = limits_for(settings, project_id)["image_count_total"]
    return None if limit == UNLIMITED else limit


def check_image_count(limit: int | None, project_id: str) -> None:
    """Inside project_lock, in the transaction that creates the image: parallel creates
    of one project are decided one at a time, so together they never pass the limit."""
    if limit is None:
        return
    count = Image.select().where(Image.owner == project_id).count()
    if count >= limit:
        raise errors.too_large(f"Project {project_id} has reached its image_count_total limit "
                               f"of {limit} images; delete an image or ask an admin to raise it.")


@contextlib.contextmanager
def project_lock(project_id: str):
    """Serialises quota decisions of one project across workers and nodes."""
    db = database.obj
    if isinstance(db, peewee.PostgresqlDatabase):
        with db.atomic():
            db.execute_sql("SELECT pg_advisory_xact_lock(hashtext(%s))", (project_id,))
            yield
    else:
        with db.atomic(lock_type="IMMEDIATE"):  # SQLite: one writer at a time anyway
            yield


class StorageGrant:
    """The bytes one upload may write, extended under the project lock as data arrives."""

    def __init__(self, settings: QuotaSettings, image_id: str, project_id: str,
                 staging: bool = False):
        self.settings = settings
        self.image_id = image_id
        self.project_id = project_id
        self.granted = 0
        # Read once, before any lock: with Keystone limits this asks Keystone.
        self.limits = limits_for(settings, project_id) if settings.unified else {}
        self.byte_limits = self._byte_limits(staging)

    def _byte_limits(self, staging: bool) -> list[tuple[str, int, object]]:
        """(name, bytes, how that usage is measured) of every limit this write counts in."""
        limits = []
        if self.settings.user_storage_quota > 0:
            limits.append(("user_storage_quota", self.settings.user_storage_quota, used_bytes))
        for name, usage, counted in (("image_size_total", used_bytes, True),
                                     ("image_stage_total", staged_bytes, staging)):
            value = self.limits.get(name, UNLIMITED)
            if counted and value != UNLIMITED:
                limits.append((name, value * MiB, usage))
        return limits

    @property
    def limited(self) -> bool:
        return bool(self.byte_limits)

    def start(self, content_length: int | None) -> None:
        """At the start of an upload: the uploading-count limit, and a known size up front."""
        limit = self.limits.get("image_count_uploading", UNLIMITED)
        if limit != UNLIMITED:
            with project_lock(self.project_id):  # parallel starts decided one at a time
                uploading = (Image.select().where(Image.owner == self.project_id,
                                                  Image.status.in_(UPLOADING_STATUSES),
                                                  Image.id != self.image_id).count())
            if uploading >= limit:
                raise errors.too_large(
                    f"Project {self.project_id} already has {uploading} uploads in progress "
                    f"(image_count_uploading limit {limit}); wait for one to finish.")
        if content_length is not None:
            self.cover(content_length, exact=True)

    def cover(self, total: int, exact: bool = False) -> None:
        """Make sure `total` bytes are granted, or refuse with 413 and what remains."""
        if not self.limited or total <= self.granted:
            return
        with briefly(), project_lock(self.project_id):  # mid-upload: no connection held
            left = [(limit - usage(self.project_id), name)
                    for name, limit, usage in self.byte_limits]
            remaining, name = min(left)
            needed = total - self.granted
            if needed > remaining:
                raise errors.too_large(
                    f"Denying attempt to upload image because it exceeds the quota: the data "
                    f"({total} bytes) would exceed {name}. {max(remaining + self.granted, 0)} "
                    "bytes remaining.")
            # Far from the limit, ask ahead to save locked round trips; near it, take
            # exactly what arrived, so bytes held ahead by parallel uploads of the same
            # project never refuse data that would fit.
            ahead = not exact and remaining >= EXACT_BELOW
            grant = max(needed, GRANT_STEP) if ahead else needed
            (Image.update(reserved=Image.reserved + grant)
             .where(Image.id == self.image_id).execute())
            self.granted += grant
