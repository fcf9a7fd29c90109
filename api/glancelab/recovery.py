"""Crash recovery: no image stays stuck in 'saving', no partial or orphan data stays behind.

Run before workers start (every interrupted upload on this host) and when one worker
dies (that worker's uploads only).
"""

from __future__ import annotations

import logging
import os

from glancelab.db.models import Image, ImageLocation, PendingUndo, Task
from glancelab.db import statuses
from glancelab.images import lifecycle
from glancelab.stores import Store, StoreError, StoreRegistry, undo
from glancelab.stores.staging import StagingStore

LOG = logging.getLogger(__name__)

# Data files younger than this may belong to an upload finishing on another node.
ORPHAN_MIN_AGE_SECONDS = 300.0


def _held_by(field, holder_prefix: str):
    """'host:' means every process of this host; 'host:pid' means exactly that process."""
    if holder_prefix.endswith(":"):
        return field.startswith(holder_prefix)
    return field == holder_prefix


def recover_uploads(stores: StoreRegistry, holder_prefix: str,
                    staging: Store | None = None) -> list[str]:
    """Requeue images whose upload or staging was held by holder_prefix; drop partial data."""
    stuck = lifecycle.recover(lambda field: _held_by(field, holder_prefix))
    for store in [*stores.stores.values(), *([staging] if staging else [])]:
        for path in store.recover(holder_prefix):
            LOG.info("removed partial upload", extra={"path": path, "store": store.id})
    # S3 parts and Swift segments those writers (or an earlier outage) left
    undo.retry(stores.stores.values(), _held_by(PendingUndo.holder, holder_prefix))
    for image_id in stuck:
        LOG.warning("interrupted upload recovered; image is queued again",
                    extra={"image_id": image_id, "holder": holder_prefix})
    return stuck


def find_orphans(stores: StoreRegistry,
                 min_age_seconds: float = ORPHAN_MIN_AGE_SECONDS) -> dict[str, list[str]]:
    """Store id -> data files no image row names: reported, never deleted at start."""
    known = {url for (url,) in ImageLocation.select(ImageLocation.url).tuples()}
    found: dict[str, list[str]] = {}
    for store in stores.stores.values():
        try:
            if orphans := store.find_orphans(known, min_age_seconds):
                found[store.id] = orphans
        except StoreError as exc:  # a store down at start is reported by its check
            LOG.warning("could not look for orphans: %s", exc, extra={"store": store.id})
    return found


def report_orphans(stores: StoreRegistry) -> int:
    found = find_orphans(stores)
    count = sum(len(paths) for paths in found.values())
    if count:
        LOG.warning("%d file(s) in the stores belong to no image (a wrong [database] "
                    "connection shows as all of them); nothing was deleted: `glancelab "
                    "stores orphans` lists them, `--delete` removes them", count,
                    extra={"stores": sorted(found)})
    return count




def recover_previous_release(rt) -> list[str]:
    """Writes a previous release's processes on this host held ("host:pid", before nodes
    were named by port) and that died with them: recovered one holder at a time, so the
    writes of a process still running (a node not yet upgraded) are left alone."""
    holders = {row.upload_owner for row in Image.select(Image.upload_owner).where(
        Image.status.in_(statuses.WRITING))}
    holders |= {row.worker for row in Task.select(Task.worker).where(
        Task.status.in_(("pending", "processing")))}
    recovered = []
    for holder in sorted(h for h in holders if h):
        pid = lifecycle.legacy_holder_pid(holder)
        if pid is None or _alive(pid):
            continue
        recovered += recover_uploads(rt.stores, holder, rt.staging)
        recover_imports(rt, holder)
    return recovered


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def recover_imports(rt, holder_prefix: str) -> list[str]:
    """Fail cleanly the imports whose process is gone: undo what they added."""
    from glancelab.imports.runner import fail_task
    failed = []
    for task in Task.select().where(Task.status.in_(("pending", "processing")),
                                    _held_by(Task.worker, holder_prefix)):
        fail_task(rt, task, "The import was interrupted: the API process running it stopped. "
                            "Nothing of it was kept; run the import again.")
        failed.append(task.id)
    return failed


def remove_stale_staging(staging: StagingStore, min_age_seconds: float = ORPHAN_MIN_AGE_SECONDS) -> list[str]:
    """Staged data whose image is no longer waiting for an import."""
    waiting = Image.select(Image.id).where(Image.status.in_(statuses.AWAITING_IMPORT))
    known = {staging.url_for(row.id) for row in waiting}
    # Staged data is the service's own temporary copy: it goes once no import waits for it.
    stale = staging.find_orphans(known, min_age_seconds)
    for path in stale:
        staging.delete_orphan(path)
    return stale
