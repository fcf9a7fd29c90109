"""Expand and contract, as Glance's rolling upgrades split migrations."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from glancelab.db import bind, migrations


@pytest.fixture
def db(tmp_path):
    database = bind(f"sqlite:///{tmp_path}/glance.sqlite")
    yield database
    database.close_all()


def test_a_new_database_needs_expand_then_is_up_to_date(db):
    assert migrations.check(db) == migrations.EXPAND_NEEDED
    assert migrations.expand(db) == [number for number, *_ in migrations.MIGRATIONS]
    assert migrations.check(db) == migrations.UP_TO_DATE
    assert migrations.expand(db) == []


def test_contract_waits_for_expand_and_runs_only_when_asked(db, monkeypatch):
    ran = []
    extra = [(901, migrations.CONTRACT, "drop what 0.2 reads", lambda _db: ran.append(901)),
             (902, migrations.EXPAND, "a new table", lambda _db: ran.append(902))]
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS + extra)
    with pytest.raises(migrations.ContractRefused):
        migrations.contract(db)
    assert ran == []
    applied = migrations.expand(db)
    assert 902 in applied and 901 not in applied and ran == [902]
    # a release from before the split reads the highest number: it applies nothing above
    assert migrations.current_version(db) == 902
    assert migrations.check(db) == migrations.CONTRACT_NEEDED
    assert migrations.contract(db) == [901] and ran == [902, 901]
    assert migrations.check(db) == migrations.UP_TO_DATE


def test_db_check_command_exit_codes(tmp_path):
    conf = tmp_path / "glance-api.conf"
    conf.write_text(f"[database]\nconnection = sqlite:///{tmp_path}/g.sqlite\n")
    glancelab = os.path.join(os.path.dirname(sys.executable), "glancelab")

    def run(*args):
        return subprocess.run([glancelab, "--config", str(conf), "db", *args],
                              capture_output=True, text=True)

    first = run("check")
    assert first.returncode == 3 and "db expand" in first.stdout
    assert run("expand").returncode == 0
    done = run("check")
    assert done.returncode == 0 and "up to date" in done.stdout
    assert run("contract").returncode == 0


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request, tmp_path):
    url = (request.getfixturevalue("postgres").new_database() if request.param == "postgresql"
           else f"sqlite:///{tmp_path}/glance.sqlite")
    database = bind(url)
    yield database
    database.close_all()


def test_tags_properties_and_shares_carry_their_images_created_at(any_db, monkeypatch):
    """Migration 11 backfills the copy on a database of the release before, and the
    database fills it on every insert that leaves it out (as that release's nodes do
    during a rolling upgrade)."""
    from glancelab.db.models import Image
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:10])
    migrations.expand(any_db)
    for _table, index, _columns, _pg in migrations.MIGRATION_INDEXES[11]:
        any_db.execute_sql(f'DROP INDEX IF EXISTS "{index}"')
    for table in migrations.CREATED_AT_COPIES:
        # a database made before migration 11 lacks the column: make it so
        if "image_created_at" in {column.name for column in any_db.get_columns(table)}:
            any_db.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "image_created_at"')
    Image.insert(id="old-image", status="active", visibility="shared", owner="p1",
                 created_at="2026-01-02 03:04:05.000006",
                 updated_at="2026-01-02 03:04:05.000006").execute()
    Image.insert(id="new-image", status="active", visibility="shared", owner="p1",
                 created_at="2026-02-03 04:05:06.000007",
                 updated_at="2026-02-03 04:05:06.000007").execute()
    older_release_inserts = {  # the columns release 0.3.0 writes
        "image_tag": ("image_id, value", "'{image}', 't'"),
        "image_property": ("image_id, name, value", "'{image}', 'os_distro', 'd'"),
        "image_member": ("image_id, member, status, created_at, updated_at",
                         "'{image}', 'p2', 'pending', '2026-03-01', '2026-03-01'"),
    }
    for table, (columns, values) in older_release_inserts.items():
        any_db.execute_sql(f'INSERT INTO "{table}" ({columns}) VALUES '
                           f'({values.format(image="old-image")})')
    monkeypatch.undo()
    assert 11 in migrations.expand(any_db)
    for table, (columns, values) in older_release_inserts.items():
        any_db.execute_sql(f'INSERT INTO "{table}" ({columns}) VALUES '
                           f'({values.format(image="new-image")})')
        copies = dict(any_db.execute_sql(
            f'SELECT image_id, image_created_at FROM "{table}"').fetchall())
        assert {image: str(moment) for image, moment in copies.items()} == {
            "old-image": "2026-01-02 03:04:05.000006",
            "new-image": "2026-02-03 04:05:06.000007"}, table


def test_postgresql_builds_indexes_without_blocking_writes_and_repairs_them(postgres):
    """PostgreSQL builds the migrations' indexes with CREATE INDEX CONCURRENTLY after the
    migration's transaction, and each expand rebuilds one that is missing or was left
    invalid by a node stopped half-way."""
    database = bind(postgres.new_database())
    try:
        migrations.expand(database)
        name = "image_tag_value_image_created_at_image_id"

        def state():
            row = database.execute_sql(
                "SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
                "WHERE c.relname = %s", (name,)).fetchone()
            return None if row is None else row[0]

        assert state() is True
        database.execute_sql(f'DROP INDEX "{name}"')
        assert state() is None
        assert migrations.expand(database) == []  # nothing pending, and yet:
        assert state() is True
        # what a stopped build leaves: an invalid index of that name (here a unique one
        # that two equal tags make fail)
        database.execute_sql(f'DROP INDEX "{name}"')
        for image in ("a", "b"):
            database.execute_sql("INSERT INTO image (id, status, visibility, os_hidden, "
                                 "protected, min_disk, min_ram, reserved, created_at, "
                                 "updated_at) VALUES (%s, 'active', 'public', false, false, "
                                 "0, 0, 0, now(), now())", (image,))
            database.execute_sql("INSERT INTO image_tag (image_id, value) VALUES (%s, 't')",
                                 (image,))
        with pytest.raises(Exception):
            database.execute_sql(f'CREATE UNIQUE INDEX CONCURRENTLY "{name}" '
                                 'ON image_tag (value)')
        assert state() is False
        migrations.expand(database)
        assert state() is True
        statements = []
        database.execute_sql("SELECT 1")  # a fresh look at what the builder runs:
        original = database.execute_sql

        def recording(sql, *args, **kwargs):
            statements.append((sql, database.in_transaction()))
            return original(sql, *args, **kwargs)

        database.execute_sql = recording
        database.execute_sql(f'DROP INDEX "{name}"')
        migrations.expand(database)
        builds = [(sql, inside) for sql, inside in statements if "CONCURRENTLY" in sql]
        assert builds and not any(inside for _sql, inside in builds), builds
    finally:
        database.close_all()
