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
