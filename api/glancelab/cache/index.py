"""The cache's records: which copies are committed (size, md5, the file's inode and mtime,
hits) and which images are queued for the prefetcher, in one SQLite file per node."""

from __future__ import annotations

import datetime
import os

from glancelab.cache.models import CachedImage, QueuedImage, open_cache_database
from glancelab.db.models import utcnow

DB_FILE = "cache.db"


class CacheIndex:
    def __init__(self, directory: str):
        self.path = os.path.join(directory, DB_FILE)
        self._opened_in: int | None = None

    def connect(self) -> None:
        """Bind the cache's metadata database (again after a fork: one per process)."""
        if self._opened_in != os.getpid():
            open_cache_database(self.path)
            self._opened_in = os.getpid()

    def entry(self, image_id: str) -> CachedImage | None:
        self.connect()
        return CachedImage.get_or_none(CachedImage.image_id == image_id)

    def recorded(self, image_id: str) -> bool:
        self.connect()
        return CachedImage.select().where(CachedImage.image_id == image_id).exists()

    def record(self, image_id: str, size: int, checksum: str | None, stat: os.stat_result):
        """A copy committed: what it looked like, so any later change is seen."""
        self.connect()
        now = utcnow()
        (CachedImage.insert(image_id=image_id, size=size, checksum=checksum, hits=0,
                            last_accessed=now, last_modified=now, inode=stat.st_ino,
                            mtime_ns=stat.st_mtime_ns)
         .on_conflict_replace().execute())
        QueuedImage.delete().where(QueuedImage.image_id == image_id).execute()

    def hit(self, image_id: str) -> None:
        (CachedImage.update(hits=CachedImage.hits + 1, last_accessed=utcnow())
         .where(CachedImage.image_id == image_id).execute())

    def forget(self, image_id: str) -> int:
        self.connect()
        return CachedImage.delete().where(CachedImage.image_id == image_id).execute()

    def cached(self) -> list[CachedImage]:
        self.connect()
        return list(CachedImage.select().order_by(CachedImage.last_accessed.desc()))

    def queued(self) -> list[str]:
        self.connect()
        return [row.image_id for row in QueuedImage.select().order_by(QueuedImage.queued_at)]

    def queue(self, image_id: str) -> None:
        self.connect()
        QueuedImage.insert(image_id=image_id).on_conflict_ignore().execute()

    def dequeue(self, image_id: str | None = None) -> None:
        """Take one image off the queue, or every image (None)."""
        self.connect()
        query = QueuedImage.delete()
        if image_id is not None:
            query = query.where(QueuedImage.image_id == image_id)
        query.execute()


def entry_view(entry: CachedImage) -> dict:
    def epoch(value: datetime.datetime) -> float:
        return value.replace(tzinfo=datetime.timezone.utc).timestamp()
    return {"image_id": entry.image_id, "hits": entry.hits,
            "last_accessed": epoch(entry.last_accessed),
            "last_modified": epoch(entry.last_modified), "size": entry.size}
