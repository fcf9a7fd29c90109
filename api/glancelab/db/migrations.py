"""Schema creation and migration, run by `glancelab db sync` and at start.

Each migration is a numbered function; the highest applied number is kept in
schema_version, so a database is brought forward one step at a time.
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


MIGRATIONS: list[tuple[int, str, Callable[[peewee.Database], None]]] = [
    (1, "images, properties, tags, members, locations", _initial_schema),
    (2, "upload reservations and per-project limits", _quotas),
    (3, "image import tasks", _tasks),
    (4, "metadata definitions", _metadefs),
    (5, "which nodes cache which images", _cache_nodes),
    (6, "backend work a failed write still owes", _pending_undo),
]


def current_version(db: peewee.Database) -> int:
    if not db.table_exists(models.SchemaVersion._meta.table_name):
        return 0
    return models.SchemaVersion.select(peewee.fn.MAX(models.SchemaVersion.version)).scalar() or 0


def sync(db: peewee.Database) -> list[int]:
    """Apply every pending migration; returns the numbers applied."""
    applied = []
    with db.atomic():
        if isinstance(db, peewee.PostgresqlDatabase):
            # Two API nodes starting together must not migrate at the same time.
            db.execute_sql("SELECT pg_advisory_xact_lock(92920001)")
        db.create_tables([models.SchemaVersion], safe=True)
        done = current_version(db)
        for number, _title, apply in MIGRATIONS:
            if number > done:
                apply(db)
                models.SchemaVersion.create(version=number)
                applied.append(number)
    return applied

