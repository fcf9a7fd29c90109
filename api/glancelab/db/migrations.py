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


# The shape of a large catalogue (one million images), as SQLite's ANALYZE would describe
# it: rows in the index, then rows per distinct value of each leading column. Without
# statistics SQLite's planner takes any equality index over the one that gives the order
# asked for, and sorted every visible image to answer a first page (nobody runs ANALYZE on
# a service's SQLite file). Written only where a table has no figures of a real ANALYZE
# (which replaces them).
SQLITE_PLANNER_STATS = {
    "image": {
        "sqlite_autoindex_image_1": "1000000 1", "image_created_at_id": "1000000 1 1",
        "image_created_at": "1000000 1", "image_updated_at": "1000000 1",
        "image_name": "1000000 2", "image_checksum": "1000000 2",
        "image_os_hash_value": "1000000 2", "image_owner": "1000000 100",
        "image_size": "1000000 10", "image_visibility": "1000000 250000",
        "image_status": "1000000 200000", "image_os_hidden": "1000000 500000",
        "image_disk_format": "1000000 100000", "image_container_format": "1000000 200000",
        "image_upload_owner": "1000000 100000",
        "image_owner_created_at_id": "1000000 100 1 1",
        "image_visibility_created_at_id": "1000000 250000 1 1"},
    "image_tag": {
        "image_tag_image_id": "3000000 3", "image_tag_image_id_value": "3000000 3 1",
        "image_tag_value": "3000000 1000", "image_tag_value_image_id": "3000000 1000 1",
        "image_tag_value_image_created_at_image_id": "3000000 1000 1 1"},
    "image_property": {
        "image_property_image_id": "10000000 10", "image_property_image_id_name": "10000000 10 1",
        "image_property_name_value": "10000000 1000000 1000",
        "image_property_name_value_image_id": "10000000 1000000 1000 1",
        "image_property_name_value_image_created_at_image_id": "10000000 1000000 1000 1 1"},
    "image_member": {
        "image_member_image_id": "1000000 3", "image_member_image_id_member": "1000000 3 1",
        "image_member_member_status": "1000000 100 30",
        "image_member_member_image_created_at_image_id": "1000000 100 1 1"},
}


def _sqlite_planner_stats(db: peewee.Database) -> None:
    if not isinstance(db, peewee.SqliteDatabase):
        return  # PostgreSQL keeps its own statistics (autovacuum's ANALYZE)
    db.execute_sql(f"ANALYZE \"{models.SchemaVersion._meta.table_name}\"")  # makes sqlite_stat1
    existing = {name for (name,) in db.execute_sql(
        "SELECT name FROM sqlite_master WHERE type = 'index'")}
    for table, indexes in SQLITE_PLANNER_STATS.items():
        known = dict(db.execute_sql("SELECT idx, stat FROM sqlite_stat1 WHERE tbl = ?",
                                    (table,)).fetchall())
        if any(indexes.get(index) != stat for index, stat in known.items()):
            continue  # a real ANALYZE described it: keep its figures
        for index, stat in indexes.items():
            if index in existing and index not in known:  # ours, or an index added since
                db.execute_sql("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)",
                               (table, index, stat))
    db.execute_sql("ANALYZE sqlite_schema")  # this connection plans with them at once


def _indexes_only(db: peewee.Database) -> None:
    """A migration that only adds MIGRATION_INDEXES[its number]."""


# The tables that carry a copy of their image's created_at (models.ImageCreatedAt).
CREATED_AT_COPIES = ("image_tag", "image_property", "image_member")

# The indexes each migration adds: (table, name, columns, PostgreSQL only). Additive, so
# older releases never notice them. SQLite builds them in the migration's transaction;
# PostgreSQL after it, with CREATE INDEX CONCURRENTLY, so that writes to a large table go
# on while it is indexed (a plain CREATE INDEX blocks them), and again at each expand
# until each is valid (a node stopped in the middle leaves an invalid one).
MIGRATION_INDEXES: dict[int, list[tuple[str, str, str, bool]]] = {
    8: [("image_property", "image_property_name_value_image_id", "name, value, image_id", False),
        ("image_tag", "image_tag_value_image_id", "value, image_id", False)],
    # A page sorted by name puts NULL names first ascending (lowest, as on SQLite);
    # PostgreSQL walks an index only in the NULLS order it was built with.
    10: [("image", "image_name_nulls_first_id", '"name" ASC NULLS FIRST, "id"', True)],
    11: [("image_tag", "image_tag_value_image_created_at_image_id",
          "value, image_created_at, image_id", False),
         ("image_property", "image_property_name_value_image_created_at_image_id",
          "name, value, image_created_at, image_id", False),
         ("image_member", "image_member_member_image_created_at_image_id",
          "member, image_created_at, image_id", False),
         ("image", "image_owner_created_at_id", "owner, created_at, id", False),
         ("image", "image_visibility_created_at_id", "visibility, created_at, id", False)],
}


def _image_created_at_copies(db: peewee.Database) -> None:
    # Expand only: a nullable column, its backfill, a trigger that fills it on every
    # insert (so rows an older node writes during a rolling upgrade are filled too, as
    # Glance's own expand migrations keep a new column in step with triggers).
    postgres = isinstance(db, peewee.PostgresqlDatabase)
    if postgres:
        db.execute_sql(
            "CREATE OR REPLACE FUNCTION glancelab_copy_image_created_at() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.image_created_at IS NULL THEN "
            "SELECT created_at INTO NEW.image_created_at FROM image WHERE id = NEW.image_id; "
            "END IF; RETURN NEW; END $$")
    for table in CREATED_AT_COPIES:
        if "image_created_at" not in {column.name for column in db.get_columns(table)}:
            db.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN "image_created_at" TIMESTAMP'
                           if postgres else
                           f'ALTER TABLE "{table}" ADD COLUMN "image_created_at" DATETIME')
        db.execute_sql(f'UPDATE "{table}" SET "image_created_at" = (SELECT "created_at" FROM '
                       f'"image" WHERE "image"."id" = "{table}"."image_id") '
                       'WHERE "image_created_at" IS NULL')
        trigger = f"{table}_copy_image_created_at"
        if postgres:
            db.execute_sql(f'DROP TRIGGER IF EXISTS "{trigger}" ON "{table}"')
            db.execute_sql(f'CREATE TRIGGER "{trigger}" BEFORE INSERT ON "{table}" '
                           "FOR EACH ROW EXECUTE FUNCTION glancelab_copy_image_created_at()")
        else:  # SQLite cannot change NEW before the insert: fill the row just written
            db.execute_sql(f'CREATE TRIGGER IF NOT EXISTS "{trigger}" AFTER INSERT ON "{table}" '
                           'FOR EACH ROW WHEN NEW."image_created_at" IS NULL BEGIN '
                           f'UPDATE "{table}" SET "image_created_at" = (SELECT "created_at" '
                           'FROM "image" WHERE "id" = NEW."image_id") WHERE "id" = NEW."id"; END')


def _sqlite_index_figures(db: peewee.Database) -> None:
    _sqlite_planner_stats(db)  # figures for migration 11's indexes beside migration 9's


EXPAND, CONTRACT = "expand", "contract"

MIGRATIONS: list[tuple[int, str, str, Callable[[peewee.Database], None]]] = [
    (1, EXPAND, "images, properties, tags, members, locations", _initial_schema),
    (2, EXPAND, "upload reservations and per-project limits", _quotas),
    (3, EXPAND, "image import tasks", _tasks),
    (4, EXPAND, "metadata definitions", _metadefs),
    (5, EXPAND, "which nodes cache which images", _cache_nodes),
    (6, EXPAND, "backend work a failed write still owes", _pending_undo),
    (7, EXPAND, "ids of deleted images, never issued again", _deleted_images),
    (8, EXPAND, "covering indexes for tag and property filters", _indexes_only),
    (9, EXPAND, "planner statistics for SQLite", _sqlite_planner_stats),
    (10, EXPAND, "PostgreSQL: an index in the order of a page sorted by name",
     _indexes_only),
    (11, EXPAND, "each tag, property and share carries its image's created_at, for lists "
     "that stop at the page's end", _image_created_at_copies),
    (12, EXPAND, "SQLite planner statistics for migration 11's indexes", _sqlite_index_figures),
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
    postgres = isinstance(db, peewee.PostgresqlDatabase)
    with db.atomic():
        if postgres:
            # Two API nodes starting together must not migrate at the same time.
            db.execute_sql("SELECT pg_advisory_xact_lock(92920001)")
        db.create_tables([models.SchemaVersion], safe=True)
        done = applied_numbers(db)
        for number, kind, _title, apply in MIGRATIONS:
            if kind == phase and number not in done:
                apply(db)
                if not postgres:
                    _create_indexes(db, number, concurrently=False)
                models.SchemaVersion.create(version=number)
                applied.append(number)
    if postgres and phase == EXPAND:
        _build_indexes_online(db)
    return applied


def _index_sql(entry: tuple[str, str, str, bool], concurrently: bool) -> str:
    table, name, columns, _postgres_only = entry
    how = "CONCURRENTLY " if concurrently else ""
    return f'CREATE INDEX {how}IF NOT EXISTS "{name}" ON "{table}" ({columns})'


def _create_indexes(db: peewee.Database, number: int, concurrently: bool) -> None:
    for entry in MIGRATION_INDEXES.get(number, ()):
        if not entry[3] or isinstance(db, peewee.PostgresqlDatabase):
            db.execute_sql(_index_sql(entry, concurrently))


def _build_indexes_online(db: peewee.Database) -> None:
    """Build the applied migrations' indexes that are missing or invalid, without
    blocking writes (PostgreSQL; outside any transaction)."""
    entries = [entry for number in sorted(applied_numbers(db))
               for entry in MIGRATION_INDEXES.get(number, ())]
    if not entries:
        return
    db.execute_sql("SELECT pg_advisory_lock(92920002)")  # one builder; the others wait
    try:
        valid = dict(db.execute_sql(
            "SELECT c.relname, i.indisvalid FROM pg_class c "
            "JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relname = ANY(%s)",
            ([entry[1] for entry in entries],)).fetchall())
        for entry in entries:
            if valid.get(entry[1]) is False:  # a build that was stopped half-way
                db.execute_sql(f'DROP INDEX CONCURRENTLY IF EXISTS "{entry[1]}"')
            if not valid.get(entry[1]):
                db.execute_sql(_index_sql(entry, concurrently=True))
    finally:
        db.execute_sql("SELECT pg_advisory_unlock(92920002)")
