"""Interoperable image import, the request side: stage data, check an import, start it.

PUT /stage puts data in the staging store (queued -> uploading); POST /import checks the
method, the stores and the image's state, takes the image's import lock (the
os_glance_import_task property, unique per image), records a task and hands it to the
background runner (imports.runner), answering 202 at once.
"""

from __future__ import annotations

import logging
import uuid
from typing import BinaryIO

import peewee

from glancelab import errors
from glancelab.db import database
from glancelab.db.models import Image, ImageLocation, ImageProperty, Task, set_property
from glancelab.db import statuses
from glancelab.identity import access
from glancelab.identity.context import RequestContext
from glancelab.images import lifecycle, stage_host
from glancelab.images.receive import announced_size, receive
from glancelab.imports import runner as import_runner
from glancelab.imports.runner import FAILED_IMPORT, IMPORT_TASK, IMPORTER_ROLES, IMPORTING_TO
from glancelab.imports.uri_filter import UriRefused
from glancelab.runtime import Runtime

LOG = logging.getLogger(__name__)


def info(rt: Runtime) -> dict:
    return {"import-methods": {"description": "Import methods available.", "type": "array",
                               "value": list(rt.imports.methods)}}


def stage(rt: Runtime, ctx: RequestContext, image_id: str, stream: BinaryIO,
          content_length: int | None, size_header: str | None = None) -> None:
    if "glance-direct" not in rt.imports.methods:
        raise errors.not_found("Staging is off: add glance-direct to enabled_import_methods "
                               "to use PUT /v2/images/{image_id}/stage.")
    image = access.get_visible_image(ctx, image_id)
    access.authorize_image(ctx, image, "modify_image")
    stored, writer = receive(rt, image, stream, content_length, rt.staging,
                             statuses.UPLOADING, announced_size(size_header),
                             detailed=ctx.is_admin)
    # Staged data keeps counting against the project's quota until it is imported.
    if not lifecycle.finish_staging(image.id, writer.holder, stored.size):
        rt.staging.delete(stored.url)
        raise errors.Gone(f"Image {image_id} was deleted while staging; its data "
                                      "was discarded.")
    stage_host.record(image.id, rt.settings.stage_host)
    LOG.info("image data staged", extra={"image_id": image.id, "size": stored.size})


def _method(rt: Runtime, body) -> dict:
    if not isinstance(body, dict) or not isinstance(body.get("method"), dict):
        raise errors.bad_request('Request body must be a JSON object with "method": '
                                 '{"name": "glance-direct"} (or web-download, copy-image).')
    method = body["method"]
    name = method.get("name")
    if name not in rt.imports.methods:
        raise errors.bad_request(f"Import method {name!r} is not enabled here; GET "
                                 "/v2/info/import lists the methods that are.")
    for flag in ("all_stores", "all_stores_must_succeed"):
        if body.get(flag) is None:
            body.pop(flag, None)  # openstacksdk sends null for "not given"
        elif not isinstance(body[flag], bool):
            raise errors.bad_request(f"{flag} must be true or false.")
    if body.get("stores") is None:
        body.pop("stores", None)
    elif not (isinstance(body["stores"], list)
                                 and all(isinstance(s, str) for s in body["stores"])):
        raise errors.bad_request("stores must be a list of store identifiers.")
    if body.get("all_stores") and body.get("stores"):
        raise errors.bad_request("All_stores parameter can't be used with x-image-meta-store "
                                 "header or stores parameter; give one or the other.")
    return method


def _target_stores(rt: Runtime, image: Image, body: dict, name: str) -> list[str]:
    registry = rt.stores
    if not registry.multistore:
        return [registry.default_id]
    writable = [s.id for s in registry.stores.values() if s.writable]
    if body.get("all_stores"):
        wanted = writable
    else:
        wanted = list(dict.fromkeys(body.get("stores") or [registry.default_id]))
        for store_id in wanted:
            if store_id not in registry.stores:
                raise errors.bad_request(f"Store for identifier {store_id} not found; see GET "
                                         "/v2/info/stores.")
            if store_id not in writable:
                raise errors.bad_request(f"Store {store_id} is read-only; choose another store.")
    if name == "copy-image":
        present = {meta.get("store") for (meta,) in ImageLocation
                   .select(ImageLocation.metadata).where(ImageLocation.image == image.id).tuples()}
        if not body.get("all_stores"):
            already = [s for s in wanted if s in present]
            if already:
                raise errors.conflict(f"Image {image.id} is already present at store(s) "
                                      f"{', '.join(already)}.")
        wanted = [s for s in wanted if s not in present]
        if not wanted:
            raise errors.conflict(f"Image {image.id} is already present in every store.")
    return wanted


def start_import(rt: Runtime, ctx: RequestContext, image_id: str, body) -> Task:
    method = _method(rt, body)
    name = method["name"]
    image = access.get_visible_image(ctx, image_id)
    if name == "copy-image":
        access.authorize_image(ctx, image, "copy_image")
    else:
        access.authorize_image(ctx, image, "modify_image")
    if name == "web-download":
        uri = method.get("uri")
        if not isinstance(uri, str) or not uri:
            raise errors.bad_request('web-download needs "uri" in "method".')
        try:
            rt.imports.uri_filter.check(uri)
        except UriRefused as exc:
            raise errors.bad_request(f"URI for web-download does not pass filtering: {exc}.") \
                from None
    if name == "glance-direct":
        host = stage_host.elsewhere(image.id, rt.settings.stage_host)
        if host:  # the data waits on another node: it imports it (images/stage_host.py)
            raise stage_host.StagedElsewhere(host, body=body)
    stores = _target_stores(rt, image, body, name)
    task = Task(id=str(uuid.uuid4()), status="pending", owner=image.owner or ctx.project_id,
                user_id=ctx.user_id, image_id=image.id, request_id=ctx.request_id,
                worker=lifecycle.writer_id(), message="",
                input={"method": method, "stores": stores,
                       "all_stores": bool(body.get("all_stores")),
                       "all_stores_must_succeed": body.get("all_stores_must_succeed", True),
                       IMPORTER_ROLES: sorted(ctx.roles)},
                result={"stores_done": []})
    try:
        with database.atomic():
            if not lifecycle.start_import(image.id, name):
                raise lifecycle.import_refused(image_id, name)
            ImageProperty.insert(image=image.id, name=IMPORT_TASK, value=task.id).execute()
            set_property(image.id, IMPORTING_TO, ",".join(stores))
            set_property(image.id, FAILED_IMPORT, "")
            stage_host.forget(image.id)
            task.save(force_insert=True)
    except peewee.IntegrityError:
        raise errors.conflict(f"Image {image_id} has an import in progress; wait for its task "
                              "to finish (GET /v2/images/{image_id}/tasks).") from None
    LOG.info("import accepted", extra={"image_id": image.id, "task_id": task.id,
                                       "method": name, "stores": stores})
    import_runner.for_runtime(rt).submit(task.id, task.owner)
    return task
