"""Writes the database could not settle: an upload whose data was written but whose
outcome could not be recorded because the database went down at that moment.

Until the database answers, nobody knows whether the upload's last transaction committed
(a connection can break during COMMIT). So nothing is deleted yet: a thread of this
process retries, and once it can read the image it either finds the upload recorded
(active, with this location: nothing to do) or gives the image back (queued) and removes
the data no image names. If the process dies first, the master's recovery of its writes
does the same.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import Callable

from glancelab.db import UNAVAILABLE, briefly
from glancelab.db.models import ImageLocation
from glancelab.images import lifecycle

LOG = logging.getLogger(__name__)

RETRY_SECONDS = 2.0


@dataclasses.dataclass
class Unsettled:
    image_id: str
    holder: str
    status: str                  # the status the writer held: saving or uploading
    url: str | None = None       # where its data is, if it was written
    discard: Callable[[], None] | None = None  # removes that data


_lock = threading.Lock()
_owed: list[Unsettled] = []
_thread: threading.Thread | None = None


def settle_later(work: Unsettled) -> None:
    global _thread
    with _lock:
        _owed.append(work)
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, name="glancelab-settle", daemon=True)
            _thread.start()
    LOG.warning("the database is down: the outcome of this write is settled once it "
                "answers", extra={"image_id": work.image_id})


def _run() -> None:
    while True:
        with _lock:
            pending = list(_owed)
        if not pending:
            return
        for work in pending:
            try:
                with briefly():
                    settle(work)
            except UNAVAILABLE:
                continue
            except Exception:  # noqa: BLE001 - one bad item must not keep the others owed
                LOG.exception("settling an interrupted write failed",
                              extra={"image_id": work.image_id})
            with _lock:
                _owed.remove(work)
        time.sleep(RETRY_SECONDS)


def settle(work: Unsettled) -> None:
    recorded = work.url is not None and ImageLocation.select().where(
        ImageLocation.image == work.image_id, ImageLocation.url == work.url).exists()
    if recorded:
        return
    lifecycle.release(work.image_id, work.holder, work.status)
    if work.discard is not None:
        work.discard()
    LOG.info("interrupted write settled: image queued again, its data removed",
             extra={"image_id": work.image_id})
