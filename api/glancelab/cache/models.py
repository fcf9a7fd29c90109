"""The cache's own metadata, one SQLite file in image_cache_dir: each node has its cache."""

from __future__ import annotations

import peewee

from glancelab.db import ImmediateSqliteDatabase
from glancelab.db.models import utcnow

cache_database = peewee.DatabaseProxy()


class CacheModel(peewee.Model):
    class Meta:
        database = cache_database
        legacy_table_names = False


class CachedImage(CacheModel):
    image_id = peewee.CharField(max_length=36, primary_key=True)
    size = peewee.BigIntegerField()
    checksum = peewee.CharField(max_length=32, null=True)
    hits = peewee.IntegerField(default=0)
    last_accessed = peewee.DateTimeField(default=utcnow, index=True)
    last_modified = peewee.DateTimeField(default=utcnow)
    # What the file looked like when committed: any change means it is not ours any more.
    inode = peewee.BigIntegerField()
    mtime_ns = peewee.BigIntegerField()


class QueuedImage(CacheModel):
    image_id = peewee.CharField(max_length=36, primary_key=True)
    queued_at = peewee.DateTimeField(default=utcnow)


def open_cache_database(path: str) -> peewee.Database:
    db = ImmediateSqliteDatabase(path, pragmas={"journal_mode": "wal", "synchronous": "normal",
                                                       "busy_timeout": 15000})
    cache_database.initialize(db)
    db.create_tables([CachedImage, QueuedImage], safe=True)
    return db
