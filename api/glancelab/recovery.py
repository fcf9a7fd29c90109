"""Crash recovery: no image stays stuck in 'saving', no partial or orphan data stays behind.

Run before workers start (every interrupted upload on this host) and when one worker
dies (that worker's uploads only).
"""

from __future__ import annotations

import logging

from glancelab.db import database
from glancelab.db.models import Image, ImageLocation, utcnow
from glancelab.stores import StoreRegistry

LOG = logging.getLogger(__name__)

# Data files younger than this may belong to an upload finishing on another node.
ORPHAN_MIN_AGE_SECONDS = 300.0


def recover_uploads(stores: StoreRegistry, holder_prefix: str) -> list[str]:
    """Requeue images whose upload was held by holder_prefix; drop their partial data."""
    with database.atomic():
        stuck = [row.id for row in Image.select(Image.id).where(
            Image.status == "saving", Image.upload_owner.startswith(holder_prefix))]
        if stuck:
            (Image.update(status="queued", upload_owner=None, reserved=0, updated_at=utcnow())
             .where(Image.id.in_(stuck), Image.status == "saving").execute())
    for store in stores.stores.values():
        for path in store.recover(holder_prefix):
            LOG.info("removed partial upload", extra={"path": path, "store": store.id})
    for image_id in stuck:
        LOG.warning("interrupted upload recovered; image is queued again",
                    extra={"image_id": image_id, "holder": holder_prefix})
    return stuck


def remove_orphans(stores: StoreRegistry, min_age_seconds: float = ORPHAN_MIN_AGE_SECONDS) -> list[str]:
    known = {url for (url,) in ImageLocation.select(ImageLocation.url).tuples()}
    removed = []
    for store in stores.stores.values():
        for path in store.remove_orphans(known, min_age_seconds):
            LOG.warning("removed orphan image data", extra={"path": path, "store": store.id})
            removed.append(path)
    return removed


