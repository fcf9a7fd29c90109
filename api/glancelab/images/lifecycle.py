"""The image lifecycle: every status an image can have and every change between them.

Nothing else writes Image.status. Each change is one conditional UPDATE (`... WHERE status
= <expected>`), so two requests racing for one image never both win, and a change that
finds the image elsewhere (deleted, taken by another writer) reports it instead of
overwriting it.

    queued --claim--> saving --store_upload--> active          PUT /file
    queued --claim--> uploading --finish_staging--> uploading  PUT /stage (data waits)
    uploading / queued / active --start_import--> importing    POST /import
    importing --finish_import--> active                        (copy-image stays active)
    importing --fail_import--> queued
    queued --activate_with_location--> active                  POST /locations, PATCH
    active <--set_deactivated--> deactivated
    saving / uploading of a dead writer --recover--> queued
    any failed write --release--> queued

Deleting an image removes its row (Glance's `deleted` and `pending_delete` exist only in
the schema, as Glance keeps them for clients that filter on them).
"""

from __future__ import annotations

import dataclasses
import os
import socket

from glancelab import errors
from glancelab.db import database
from glancelab.db.models import Image, ImageLocation, utcnow
from glancelab.db.statuses import (ACTIVE, DEACTIVATED, DELETED, IMPORTING, QUEUED, SAVING,
                                    UPLOADING, WRITING)

# Import method -> (status it starts from, status while it runs).
IMPORT_TRANSITIONS = {"glance-direct": (UPLOADING, IMPORTING),
                      "web-download": (QUEUED, IMPORTING),
                      "copy-image": (ACTIVE, ACTIVE)}


@dataclasses.dataclass(frozen=True)
class DataFacts:
    """What writing the data told us about it: recorded when the image becomes active."""
    size: int
    checksum: str | None = None
    os_hash_algo: str | None = None
    os_hash_value: str | None = None
    virtual_size: int | None = None

    def columns(self) -> dict:
        return {Image.size: self.size, Image.checksum: self.checksum,
                Image.os_hash_algo: self.os_hash_algo, Image.os_hash_value: self.os_hash_value,
                Image.virtual_size: self.virtual_size}


# This API service among those sharing the database: the host name, and the port when the
# server names it (two services on one host must never take each other's writes for
# their own). Set before the workers fork, so they all share it.
_node = socket.gethostname()


def name_node(bind_port: int) -> None:
    global _node
    _node = f"{socket.gethostname()}-{bind_port}"


def writer_id(pid: int | None = None) -> str:
    """Names the process writing an image (its holder), "node:pid"; read after fork, so
    each worker has its own, and recovery knows whose writes died with a process."""
    return f"{this_host()}{pid or os.getpid()}"


def this_host() -> str:
    """The prefix every writer of this service shares (recovery at start takes them all)."""
    return f"{_node}:"


def legacy_holder_pid(holder: str | None) -> int | None:
    """The pid of a holder named by a release before name_node ("host:pid", this host),
    so that the writes it left are recovered once that process is gone."""
    host, _, pid = (holder or "").rpartition(":")
    return int(pid) if host == socket.gethostname() and pid.isdigit() else None


def current_status(image_id: str) -> str:
    image = Image.get_or_none(Image.id == image_id)
    return image.status if image else DELETED


def _move(image_id: str, source, target: str, **extra) -> bool:
    """One conditional status change; False when the image is not (any more) in `source`."""
    sources = source if isinstance(source, tuple) else (source,)
    query = Image.update(status=target, updated_at=utcnow(), **extra).where(
        Image.id == image_id, Image.status.in_(sources))
    return bool(query.execute())


# -- writing data (upload and stage) ---------------------------------------------------------

def claim(image: Image, holder: str, target: str) -> None:
    """queued -> saving/uploading for this writer, or 409 saying why not."""
    if not _move(image.id, QUEUED, target, upload_owner=holder):
        raise errors.conflict(f"Image status transition from {current_status(image.id)} to "
                              f"{target} is not allowed: data can be sent only to a queued "
                              "image.")


def release(image_id: str, holder: str, status: str) -> None:
    """A write that failed gives the image back: queued, nothing reserved."""
    (Image.update(status=QUEUED, upload_owner=None, reserved=0, updated_at=utcnow())
     .where(Image.id == image_id, Image.status == status, Image.upload_owner == holder)
     .execute())


def store_upload(image_id: str, holder: str, facts: DataFacts, url: str,
                 location_metadata: dict) -> bool:
    """saving -> active with its first location; False when the image went away meanwhile."""
    with database.atomic():
        done = (Image.update(status=ACTIVE, upload_owner=None, reserved=0, updated_at=utcnow(),
                             **{field.name: value for field, value in facts.columns().items()})
                .where(Image.id == image_id, Image.status == SAVING,
                       Image.upload_owner == holder).execute())
        if done:
            ImageLocation.create(image=image_id, url=url, metadata=location_metadata)
    return bool(done)


def finish_staging(image_id: str, holder: str, size: int) -> bool:
    """Staging done: the image stays uploading, free for an import, its bytes reserved."""
    return bool(Image.update(upload_owner=None, reserved=size, updated_at=utcnow())
                .where(Image.id == image_id, Image.status == UPLOADING,
                       Image.upload_owner == holder).execute())


def recover(holder_is_gone) -> list[str]:
    """Requeue images whose writer is gone; `holder_is_gone` is a peewee condition on it."""
    with database.atomic():
        stuck = [row.id for row in Image.select(Image.id).where(
            Image.status.in_(WRITING), holder_is_gone(Image.upload_owner))]
        if stuck:
            (Image.update(status=QUEUED, upload_owner=None, reserved=0, updated_at=utcnow())
             .where(Image.id.in_(stuck), Image.status.in_(WRITING)).execute())
    return stuck


# -- import ----------------------------------------------------------------------------------

def start_import(image_id: str, method: str) -> bool:
    """Into the status an import runs in; False when the image is not ready for `method`.

    Runs inside the caller's transaction (which also takes the image's import lock).
    """
    source, running = IMPORT_TRANSITIONS[method]
    query = Image.update(status=running, updated_at=utcnow()).where(
        Image.id == image_id, Image.status == source)
    if method == "glance-direct":
        query = query.where(Image.upload_owner.is_null())  # staging is finished
    return bool(query.execute())


def import_refused(image_id: str, method: str) -> errors.GlanceError:
    source = IMPORT_TRANSITIONS[method][0]
    hint = {"glance-direct": "stage data first with PUT /v2/images/{id}/stage",
            "web-download": "web-download needs a queued image with no data",
            "copy-image": "copy-image copies an active image"}[method]
    return errors.conflict(f"Image {image_id} is {current_status(image_id)}: {hint} "
                           f"(expected {source}).")


def finish_import(image_id: str, facts: DataFacts | None) -> None:
    """importing -> active with the data's facts; a copy (facts None) only touches the image."""
    if facts is None:
        Image.update(updated_at=utcnow()).where(Image.id == image_id).execute()
        return
    _move(image_id, IMPORTING, ACTIVE, reserved=0,
          **{field.name: value for field, value in facts.columns().items()})


def fail_import(image_id: str) -> None:
    """importing -> queued: the import's data is gone, the image can be imported again."""
    _move(image_id, IMPORTING, QUEUED, reserved=0, upload_owner=None)


# -- locations and admin actions -------------------------------------------------------------

def activate_with_location(image_id: str, facts: DataFacts) -> bool:
    """queued -> active with data that already exists elsewhere; False when not queued."""
    return _move(image_id, QUEUED, ACTIVE,
                 **{field.name: value for field, value in facts.columns().items()})


def set_deactivated(image: Image, deactivate: bool) -> None:
    """active -> deactivated or back; doing it twice is not an error, as in Glance."""
    action = "deactivate" if deactivate else "reactivate"
    target, source = (DEACTIVATED, ACTIVE) if deactivate else (ACTIVE, DEACTIVATED)
    if image.status == target:
        return
    if image.status != source or not _move(image.id, source, target):
        raise errors.forbidden(f"Not allowed to {action} image in status "
                               f"'{current_status(image.id)}'.")
