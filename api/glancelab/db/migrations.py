"""Schema creation and migration, split as Glance's rolling upgrades split them.

Each migration is a numbered function of one phase. An expand migration only adds (a
table, a nullable column): the previous release keeps working on the expanded schema,
so a node starts by applying the pending expand migrations itself and nodes of two
releases share the database during an upgrade. A contract migration removes or changes
what an older release still reads: it runs only when asked (`glancelab db contract`),
once every node runs the new release. `glancelab db sync` does both, for an offline
upgrade. schema_version holds each applied number (its maximum is what releases before
the split read: they apply nothing above it).
"""

from __future__ import annotations

from typing import Callable

import peewee
from playhouse import migrate

from glancelab.db import models


def _initial_schema(db: peewee.Database) -> None:
    # From today's models: later steps only add what an older database lacks.
    db.create_tables([models.Image, models.ImageProperty, models.ImageTag, models.ImageMember,
                      models.ImageLocation], safe=True)


def _quotas(db: peewee.Database) -> None:
    migrator = (migrate.PostgresqlMigrator(db) if isinstance(db, peewee.PostgresqlDatabase)
                else migrate.SqliteMigrator(db))
    columns = {column.name for column in db.get_columns("image")}
    if "reserved" not in columns:
        migrate.migrate(migrator.add_column("image", "reserved", models.Image.reserved))
    db.create_tables([models.ProjectLimit], safe=True)


def _tasks(db: peewee.Database) -> None:
    db.create_tables([models.Task], safe=True)


def _metadefs(db: peewee.Database) -> None:
    db.create_tables(models.METADEF_MODELS, safe=True)


def _cache_nodes(db: peewee.Database) -> None:
    db.create_tables([models.CachedImageNode], safe=True)


def _pending_undo(db: peewee.Database) -> None:
    db.create_tables([models.PendingUndo], safe=True)


def _deleted_images(db: peewee.Database) -> None:
    db.create_tables([models.DeletedImage], safe=True)


def _covering_filter_indexes(db: peewee.Database) -> None:
    # Additive: older releases never notice them. CREATE INDEX IF NOT EXISTS on both
    # databases (a new database has them from the models already).
    for table, name, columns in (
            ("image_property", "image_property_name_value_image_id", "name, value, image_id"),
            ("image_tag", "image_tag_value_image_id", "value, image_id")):
        db.execute_sql(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ({columns})')


EXPAND, CONTRACT = "expand", "contract"

MIGRATIONS: list[tuple[int, str, str, Callable[[peewee.Database], None]]] = [
    (1, EXPAND, "images, properties, tags, members, locations", _initial_schema),
    (2, EXPAND, "upload reservations and per-project limits", _quotas),
    (3, EXPAND, "image import tasks", _tasks),
    (4, EXPAND, "metadata definitions", _metadefs),
    (5, EXPAND, "which nodes cache which images", _cache_nodes),
    (6, EXPAND, "backend work a failed write still owes", _pending_undo),
    (7, EXPAND, "ids of deleted images, never issued again", _deleted_images),
    (8, EXPAND, "covering indexes for tag and property filters", _covering_filter_indexes),
]

# `glancelab db check` exit codes, as glance-manage db check's
UP_TO_DATE, EXPAND_NEEDED, CONTRACT_NEEDED = 0, 3, 5


class ContractRefused(Exception):
    """contract asked for while expand migrations are still pending."""


def applied_numbers(db: peewee.Database) -> set[int]:
    if not db.table_exists(models.SchemaVersion._meta.table_name):
        return set()
    return {row.version for row in models.SchemaVersion.select(models.SchemaVersion.version)}


def current_version(db: peewee.Database) -> int:
    return max(applied_numbers(db), default=0)


def pending(db: peewee.Database, phase: str | None = None) -> list[int]:
    done = applied_numbers(db)
    return [number for number, kind, _title, _apply in MIGRATIONS
            if number not in done and (phase is None or kind == phase)]


def check(db: peewee.Database) -> int:
    if pending(db, EXPAND):
        return EXPAND_NEEDED
    return CONTRACT_NEEDED if pending(db, CONTRACT) else UP_TO_DATE


def expand(db: peewee.Database) -> list[int]:
    """Apply every pending expand migration (what a node does as it starts)."""
    return _apply(db, EXPAND)


def contract(db: peewee.Database) -> list[int]:
    """Apply every pending contract migration, once no expand one is pending."""
    with db.atomic():
        if pending(db, EXPAND):
            raise ContractRefused("expand migrations are pending: run `glancelab db expand` "
                                  "first")
    return _apply(db, CONTRACT)


def sync(db: peewee.Database) -> list[int]:
    """Expand, then contract: an offline upgrade, or a new database."""
    return expand(db) + contract(db)


def _apply(db: peewee.Database, phase: str) -> list[int]:
    applied = []
    with db.atomic():
        if isinstance(db, peewee.PostgresqlDatabase):
            # Two API nodes starting together must not migrate at the same time.
            db.execute_sql("SELECT pg_advisory_xact_lock(92920001)")
        db.create_tables([models.SchemaVersion], safe=True)
        done = applied_numbers(db)
        for number, kind, _title, apply in MIGRATIONS:
            if kind == phase and number not in done:
                apply(db)
                models.SchemaVersion.create(version=number)
                applied.append(number)
    return applied
