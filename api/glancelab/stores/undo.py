"""Backend work a failed write still owes, recorded so that no outage or crash leaks data.

An S3 multipart upload's parts and Swift's segments exist in the backend before the write
that makes them completes. The driver records what would undo them before it starts and
forgets the record once the write completes or is undone. A record outlives its write only
when the undo itself failed (the backend went away: the record is then marked STUCK for
anyone to retry) or when its process died. Recovery retries those at start and when a
worker dies; a store that writes again is evidently back, so its stuck records are retried
then too, in the background.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Iterable, Protocol

from glancelab.db import database
from glancelab.db.models import PendingUndo
from glancelab.stores.errors import StoreError

LOG = logging.getLogger(__name__)
STUCK = ""  # the holder of a record whose own undo failed: anyone may retry it
RETRY_EVERY_SECONDS = 30.0  # at most one background retry a store and process this often


class Undoing(Protocol):
    """What this log needs of a store (every Store is one): its id and its undo."""
    id: str

    def undo(self, key: str, ref: str) -> None: ...


class NoUndoLog:
    """For a store used on its own (bench, a one-off check): nothing is recorded."""

    def begin(self, store_id: str, key: str, ref: str, holder: str) -> int | None:
        return None

    def done(self, record: int | None) -> None:
        pass

    def stuck(self, store: Undoing, record: int | None) -> None:
        pass

    def store_is_back(self, store: Undoing) -> None:
        pass


class UndoLog(NoUndoLog):
    """The records, in the service's database (shared by every API node)."""

    def __init__(self) -> None:
        self._last_retry: dict[str, float] = {}
        self._stuck_here: set[str] = set()  # stores this process left records stuck in
        self._lock = threading.Lock()

    def begin(self, store_id: str, key: str, ref: str, holder: str) -> int:
        return PendingUndo.insert(store=store_id, key=key, ref=ref, holder=holder).execute()

    def done(self, record: int | None) -> None:
        if record is not None:
            PendingUndo.delete().where(PendingUndo.id == record).execute()

    def stuck(self, store: Undoing, record: int | None) -> None:
        if record is not None:
            PendingUndo.update(holder=STUCK).where(PendingUndo.id == record).execute()
            with self._lock:
                self._stuck_here.add(store.id)
            LOG.warning("a failed write could not be undone in store %s; it is undone when "
                        "the store is back", store.id, extra={"record": record})

    def store_is_back(self, store: Undoing) -> None:
        """After a good write: retry, in the background, what the store owed. At once when
        this process left something stuck there; else (another process or node may have)
        a look at most every RETRY_EVERY_SECONDS."""
        now = time.monotonic()
        with self._lock:
            due = now - self._last_retry.get(store.id, -RETRY_EVERY_SECONDS) >= RETRY_EVERY_SECONDS
            if not (due or store.id in self._stuck_here):
                return
            self._last_retry[store.id] = now
            self._stuck_here.discard(store.id)
        if PendingUndo.select().where(PendingUndo.store == store.id,
                                      PendingUndo.holder == STUCK).exists():
            threading.Thread(target=_retry_in_thread, args=(store,), daemon=True,
                             name=f"undo-{store.id}").start()


def _retry_in_thread(store: Undoing) -> None:
    try:
        retry([store], PendingUndo.holder == STUCK)
    except Exception:  # noqa: BLE001 - a helper thread: say why, the next chance retries
        LOG.exception("retrying what store %s still owed failed", store.id)
    finally:
        with contextlib.suppress(Exception):
            database.close()  # this thread's own connection ends with it


def retry(stores: Iterable[Undoing], held) -> list[str]:
    """Undo what the records matching `held` (a condition on PendingUndo.holder) owe, or
    what is STUCK; returns what was undone. A store still down keeps its records."""
    by_id = {store.id: store for store in stores}
    undone = []
    rows = PendingUndo.select().where(PendingUndo.store.in_(list(by_id)),
                                      held | (PendingUndo.holder == STUCK))
    for row in rows:
        try:
            by_id[row.store].undo(row.key, row.ref)
        except StoreError as exc:
            LOG.warning("store %s still owes an undo of %s: %s", row.store, row.key, exc)
            PendingUndo.update(holder=STUCK).where(PendingUndo.id == row.id).execute()
            continue
        PendingUndo.delete().where(PendingUndo.id == row.id).execute()
        LOG.info("undid what a failed write left", extra={"store": row.store, "key": row.key})
        undone.append(f"{row.store}:{row.key}")
    return undone
