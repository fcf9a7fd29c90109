"""Metadata database: one peewee proxy, bound at start-up to SQLite or PostgreSQL.

Connections come from a bounded pool per process (playhouse.pool). A request takes one
when it first touches the database and gives it back when it ends (`release`), so a
worker holds at most max_pool_size + max_overflow connections however many threads it
runs. A PostgreSQL connection is checked when it leaves the pool, so one that a server
restart broke is replaced instead of failing every later request.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from urllib.parse import urlparse

import peewee
from playhouse import db_url
from playhouse.pool import (MaxConnectionsExceeded, PooledPostgresqlDatabase,
                            PooledSqliteDatabase)

LOG = logging.getLogger(__name__)

database = peewee.DatabaseProxy()

# What the database (or the way to it) being down looks like to a caller: each is a 503
# that names the database, never a 500.
UNAVAILABLE = (peewee.OperationalError, peewee.InterfaceError, MaxConnectionsExceeded)


@dataclasses.dataclass(frozen=True)
class PoolSettings:
    """[database] max_pool_size, max_overflow, pool_timeout, connection_recycle_time."""
    max_pool_size: int = 5
    max_overflow: int = 10
    pool_timeout: int = 10
    connection_recycle_time: int = 3600

    @classmethod
    def from_options(cls, group) -> "PoolSettings":
        return cls(max_pool_size=group.max_pool_size, max_overflow=group.max_overflow,
                   pool_timeout=group.pool_timeout,
                   connection_recycle_time=group.connection_recycle_time)

    @property
    def max_connections(self) -> int:
        return self.max_pool_size + self.max_overflow


class BoundedPool:
    """oslo.db's meaning of the pool's numbers: at most max_pool_size connections wait
    idle; the overflow ones are closed when they come back."""

    def __init__(self, *args, keep_idle: int, **kwargs):
        self._keep_idle = keep_idle
        super().__init__(*args, **kwargs)

    def _close(self, conn, close_conn=False):
        with self._pool_lock:
            if not close_conn and len(self._connections) >= self._keep_idle:
                close_conn = True
            super()._close(conn, close_conn)


class PooledPostgres(BoundedPool, PooledPostgresqlDatabase):
    """PostgreSQL; playhouse checks each connection (SELECT 1) as it leaves the pool."""


class ImmediateTransactions:
    """SQLite whose transactions take the write lock when they begin.

    A deferred transaction that reads and then writes cannot wait for the lock: once
    another worker has committed since its read, SQLite answers "database is locked" at
    once, whatever busy_timeout says. BEGIN IMMEDIATE waits (up to busy_timeout) at the
    start instead, so concurrent writers queue rather than fail. Every explicit
    transaction here writes; single statements run in autocommit as before.
    """

    def begin(self, lock_type=None):
        return super().begin(lock_type or "IMMEDIATE")


class ImmediateSqliteDatabase(ImmediateTransactions, peewee.SqliteDatabase):
    """One connection a thread (the per-node cache index)."""


class PooledSqlite(BoundedPool, ImmediateTransactions, PooledSqliteDatabase):
    """The metadata database on SQLite: the same pool as PostgreSQL's."""


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
DATABASES = {"sqlite": PooledSqlite, "postgresql": PooledPostgres,
             "postgres": PooledPostgres, "postgresql+psycopg2": PooledPostgres}


def open_database(url: str, pool: PoolSettings | None = None) -> peewee.Database:
    """A peewee database for a glance-api.conf `[database] connection` URL.

    sqlite:///relative/path, sqlite:////absolute/path, postgresql://user:pw@host:port/db;
    playhouse.db_url reads the URL (query arguments become connection parameters).
    """
    pool = pool or PoolSettings()
    kind = DATABASES.get(urlparse(url).scheme)
    if kind is None:
        raise DatabaseURLError(f"unsupported [database] connection {url!r}: use "
                               "sqlite:///PATH or postgresql://USER:PASS@HOST:PORT/DB")
    params = db_url.parse(url, unquote_password=True, unquote_user=True)
    name = params.pop("database", "")
    sizing = {"keep_idle": pool.max_pool_size, "max_connections": pool.max_connections,
              "timeout": pool.pool_timeout, "stale_timeout": pool.connection_recycle_time}
    if kind is PooledSqlite:
        if not name or name == ":memory:":
            raise DatabaseURLError("sqlite needs a file path, e.g. sqlite:///var/glance.sqlite")
        os.makedirs(os.path.dirname(os.path.abspath(name)), exist_ok=True)
        # a pooled connection serves whichever thread takes it next
        return kind(name, pragmas=SQLITE_PRAGMAS, check_same_thread=False, **sizing, **params)
    return kind(name, **sizing, **params)


def bind(url: str, pool: PoolSettings | None = None) -> peewee.Database:
    db = open_database(url, pool)
    database.initialize(db)
    return db


def bind_config(config) -> peewee.Database:
    """bind() with glance-api.conf's [database] section."""
    return bind(config.database.connection, PoolSettings.from_options(config.database))


def release() -> None:
    """Give this thread's connection back to the pool (at a request's end, and before a
    long transfer), unless a transaction still needs it. A broken one is dropped."""
    db = database.obj
    if db is None or db.is_closed() or db.in_transaction():
        return
    try:
        db.close()
    except UNAVAILABLE as exc:  # closing a connection the server already dropped
        LOG.debug("dropping a broken database connection: %s", exc)


@contextlib.contextmanager
def briefly():
    """Database work outside a request's own span (a download's last bytes, an upload's
    quota step): a connection it had to take goes back to the pool when it is done."""
    was_open = not database.is_closed()
    try:
        yield
    finally:
        if not was_open:
            release()


def disconnect() -> None:
    """Close every connection of this process's pool (before a fork, at a stop)."""
    db = database.obj
    if db is None:
        return
    release()
    with contextlib.suppress(Exception):
        db.close_all()


def pool_usage() -> dict:
    """This process's connections: in use, idle in the pool, and the most it may open."""
    db = database.obj
    if db is None or not hasattr(db, "_in_use"):
        return {}
    with db._pool_lock:  # playhouse.pool's own bookkeeping, read under its lock
        return {"connections_in_use": len(db._in_use), "connections_idle": len(db._connections),
                "connections_max": db._max_connections}


def describe(url: str) -> str:
    """The database as an operator names it, without credentials: for 503 messages."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        return f"SQLite file {url[len('sqlite:///'):]}"
    return f"PostgreSQL at {parsed.hostname}:{parsed.port or 5432}"


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
