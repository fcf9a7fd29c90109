"""Metadata database: one peewee proxy, bound at start-up to SQLite or PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import time
from urllib.parse import urlparse

import peewee
from playhouse import db_url
from playhouse.shortcuts import ReconnectMixin

database = peewee.DatabaseProxy()


class ReconnectingPostgresqlDatabase(ReconnectMixin, peewee.PostgresqlDatabase):
    """Reconnects once when PostgreSQL restarted under a long-lived worker."""


class ImmediateSqliteDatabase(peewee.SqliteDatabase):
    """SQLite whose transactions take the write lock when they begin.

    A deferred transaction that reads and then writes cannot wait for the lock: once
    another worker has committed since its read, SQLite answers "database is locked" at
    once, whatever busy_timeout says. BEGIN IMMEDIATE waits (up to busy_timeout) at the
    start instead, so concurrent writers queue rather than fail. Every explicit
    transaction here writes; single statements run in autocommit as before.
    """

    def begin(self, lock_type=None):
        return super().begin(lock_type or "IMMEDIATE")


class DatabaseURLError(ValueError):
    pass


SQLITE_PRAGMAS = {
    "journal_mode": "wal",       # readers never wait for the writer
    "synchronous": "normal",     # safe with WAL, a lot faster than full
    "busy_timeout": 15000,       # several workers share one file
    "foreign_keys": 1,
    "cache_size": -16000,
}
# Schemes as glance-api.conf spells them (SQLAlchemy's driver suffix included).
DATABASES = {"sqlite": ImmediateSqliteDatabase, "postgresql": ReconnectingPostgresqlDatabase,
             "postgres": ReconnectingPostgresqlDatabase,
             "postgresql+psycopg2": ReconnectingPostgresqlDatabase}


def open_database(url: str) -> peewee.Database:
    """A peewee database for a glance-api.conf `[database] connection` URL.

    sqlite:///relative/path, sqlite:////absolute/path, postgresql://user:pw@host:port/db;
    playhouse.db_url reads the URL (query arguments become connection parameters).
    """
    kind = DATABASES.get(urlparse(url).scheme)
    if kind is None:
        raise DatabaseURLError(f"unsupported [database] connection {url!r}: use "
                               "sqlite:///PATH or postgresql://USER:PASS@HOST:PORT/DB")
    params = db_url.parse(url, unquote_password=True, unquote_user=True)
    name = params.pop("database", "")
    if kind is ImmediateSqliteDatabase:
        if not name or name == ":memory:":
            raise DatabaseURLError("sqlite needs a file path, e.g. sqlite:///var/glance.sqlite")
        os.makedirs(os.path.dirname(os.path.abspath(name)), exist_ok=True)
        return ImmediateSqliteDatabase(name, pragmas=SQLITE_PRAGMAS, **params)
    return kind(name, **params)


def bind(url: str) -> peewee.Database:
    db = open_database(url)
    database.initialize(db)
    return db


class QueryTimeout(Exception):
    """A statement ran past the time it was given (time_bounded)."""


@contextlib.contextmanager
def time_bounded(seconds: float):
    """Statements in the block stop after `seconds`: PostgreSQL's statement_timeout for
    the block's transaction, SQLite's progress handler. Raises QueryTimeout."""
    db = database.obj
    if isinstance(db, peewee.PostgresqlDatabase):
        try:
            with db.atomic():
                db.execute_sql(f"SET LOCAL statement_timeout = {max(1, int(seconds * 1000))}")
                yield
        except peewee.OperationalError as exc:
            if "statement timeout" in str(exc):
                raise QueryTimeout(seconds) from exc
            raise
        return
    connection = db.connection()
    deadline = time.monotonic() + seconds
    # called every N SQLite VM steps; a true answer interrupts the statement
    connection.set_progress_handler(lambda: time.monotonic() > deadline, 20000)
    try:
        yield
    except peewee.OperationalError as exc:
        if "interrupted" in str(exc):
            raise QueryTimeout(seconds) from exc
        raise
    finally:
        connection.set_progress_handler(None, 0)
