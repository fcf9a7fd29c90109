"""Metadata database: one peewee proxy, bound at start-up to SQLite or PostgreSQL."""

from __future__ import annotations

import os
from urllib.parse import unquote, urlparse

import peewee
from playhouse.shortcuts import ReconnectMixin

database = peewee.DatabaseProxy()


class ReconnectingPostgresqlDatabase(ReconnectMixin, peewee.PostgresqlDatabase):
    """Reconnects once when PostgreSQL restarted under a long-lived worker."""


class DatabaseURLError(ValueError):
    pass


def open_database(url: str) -> peewee.Database:
    """A peewee database for a glance-api.conf `[database] connection` URL.

    sqlite:///relative/path, sqlite:////absolute/path, postgresql://user:pw@host:port/db
    (SQLAlchemy driver suffixes such as postgresql+psycopg2 are accepted).
    """
    parsed = urlparse(url)
    scheme = parsed.scheme.split("+", 1)[0]
    if scheme == "sqlite":
        path = url.split("://", 1)[1][1:] if "://" in url else ""
        if not path or path == ":memory:":
            raise DatabaseURLError("sqlite needs a file path, e.g. sqlite:///var/glance.sqlite")
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        return peewee.SqliteDatabase(path, pragmas={
            "journal_mode": "wal",       # readers never wait for the writer
            "synchronous": "normal",     # safe with WAL, a lot faster than full
            "busy_timeout": 15000,       # several workers share one file
            "foreign_keys": 1,
            "cache_size": -16000,
        })
    if scheme in ("postgresql", "postgres"):
        return ReconnectingPostgresqlDatabase(
            unquote(parsed.path.lstrip("/")),
            user=unquote(parsed.username or "") or None,
            password=unquote(parsed.password or "") or None,
            host=parsed.hostname or None,
            port=parsed.port or None,
        )
    raise DatabaseURLError(
        f"unsupported [database] connection {url!r}: use sqlite:///PATH or postgresql://USER:PASS@HOST:PORT/DB")


def bind(url: str) -> peewee.Database:
    db = open_database(url)
    database.initialize(db)
    return db
