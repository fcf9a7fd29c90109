"""Interoperable image import, the background side: run a task, or fail it cleanly.

Each API worker process runs imports on a small thread pool of its own, so an import never
holds a request thread. A task's data goes: web-download -> staging store (filtered,
quota-checked, inspected) -> every target store; glance-direct -> from staging; copy-image
-> from the image's existing data. Each store done is recorded at once (a location, the
task's stores_done), so a failure, or a restart that finds the task's process gone, can
remove exactly what this task added.
"""

from __future__ import annotations

import collections
import concurrent.futures
import functools
import logging
import os
import threading

from glancelab.db import database
from glancelab.db.models import Image, ImageLocation, ImageProperty, Task, set_property, utcnow
from glancelab.formats import UnsafeImage
from glancelab.runtime import Runtime
from glancelab.images import data, lifecycle
from glancelab.images.receive import ImageWriter
from glancelab.images import locations
from glancelab.quotas.service import StorageGrant
from glancelab.stores import StoreError
from glancelab.imports import plugins as import_plugins
from glancelab.imports.plugins import PluginFailed, StagedImage
from glancelab.imports.uri_filter import UriRefused
from glancelab.imports.webdownload import FetchFailed, fetch

LOG = logging.getLogger(__name__)

IMPORT_TASK = "os_glance_import_task"
IMPORTING_TO = "os_glance_importing_to_stores"
FAILED_IMPORT = "os_glance_failed_import"
# The importing user's roles, kept in the task's input for inject_image_metadata's
# ignore_user_roles (task views leave it out).
IMPORTER_ROLES = "importer_roles"

_lock = threading.Lock()


def for_runtime(rt: Runtime) -> "ImportRunner":
    with _lock:
        if rt.importer is None:
            rt.importer = ImportRunner(rt)
        return rt.importer


class ImportFailed(Exception):
    """The import cannot finish; the message says why and what to do."""


class ImportRunner:
    """Runs imports on the worker's import threads, fairly: one project holds at most
    `per_project` of them, so its slow sources never keep another project's import
    waiting; the rest wait in arrival order."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        self.pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=rt.imports.workers, thread_name_prefix="glancelab-import")
        self._lock = threading.RLock()  # a done callback may run in the submitting thread
        self._waiting: list[tuple[str, str]] = []  # (task id, project), oldest first
        self._running: collections.Counter = collections.Counter()
        self._busy = 0

    def submit(self, task_id: str, project: str) -> None:
        with self._lock:
            self._waiting.append((task_id, project))
            self._dispatch()

    def _dispatch(self) -> None:
        index = 0
        while self._busy < self.rt.imports.workers and index < len(self._waiting):
            task_id, project = self._waiting[index]
            if self._running[project] >= self.rt.imports.per_project:
                index += 1
                continue
            del self._waiting[index]
            self._running[project] += 1
            self._busy += 1
            future = self.pool.submit(self._run_safely, task_id)
            future.add_done_callback(functools.partial(self._finished, project))

    def _finished(self, project: str, _future) -> None:
        with self._lock:
            self._running[project] -= 1
            self._busy -= 1
            self._dispatch()

    def _run_safely(self, task_id: str) -> None:
        with database.connection_context():
            try:
                ImportJob(self.rt, task_id).run()
            except Exception:  # noqa: BLE001 - a thread must never die silently
                LOG.exception("import task crashed", extra={"task_id": task_id})
                task = Task.get_or_none(Task.id == task_id)
                if task is not None and task.status in ("pending", "processing"):
                    fail_task(self.rt, task, "The import hit an unexpected error; see the API "
                                             "log, then run the import again.")


class ImportJob:
    def __init__(self, rt: Runtime, task_id: str):
        self.rt = rt
        self.task_id = task_id
        self.holder = lifecycle.writer_id()

    def run(self) -> None:
        if not (Task.update(status="processing", updated_at=utcnow())
                .where(Task.id == self.task_id, Task.status == "pending").execute()):
            return
        task = Task.get(Task.id == self.task_id)
        request = task.input
        method = request["method"]["name"]
        image = Image.get_or_none(Image.id == task.image_id)
        if image is None:
            fail_task(self.rt, task, "The image was deleted before its import ran.")
            return
        try:
            if method == "web-download":
                self._download_to_staging(image, request["method"]["uri"])
                image = Image.get(Image.id == image.id)
            if method != "copy-image" and self.rt.imports.plugins.names:
                image = self._run_plugins(task, image)
            done, failed, writer, size = self._import_to_stores(task, image, method, request)
        except ImportFailed as exc:
            fail_task(self.rt, task, str(exc))
            return
        if not done:
            fail_task(self.rt, task, f"Import to every store failed: {'; '.join(failed)}.")
            return
        self._finish(task, image, method, writer, size, failed)

    # -- data ---------------------------------------------------------------------------
    def _download_to_staging(self, image: Image, uri: str) -> None:
        writer = ImageWriter(self.rt, image, self.holder, staging=True)
        download = None
        try:
            download = fetch(uri, self.rt.imports.uri_filter, self.rt.imports.pace)
            writer.check_cap(download.length)
            writer.grant.start(download.length)
            stored = writer.write(self.rt.staging, download.chunks, download.length)
        except UriRefused as exc:
            raise ImportFailed(f"web-download refused: {exc}.") from None
        except FetchFailed as exc:
            raise ImportFailed(f"web-download failed: {exc}; check the URL and retry.") from None
        except UnsafeImage as exc:
            raise ImportFailed(f"Image rejected by format inspection: {exc}") from None
        except Exception as exc:  # quota (413), cap, staging store errors
            LOG.warning("web-download could not stage", extra={"image_id": image.id,
                                                              "error": str(exc)})
            raise ImportFailed(f"web-download could not stage the data: "
                               f"{_describe(exc, self.rt.staging.id)}") from None
        finally:
            if download is not None:
                download.close()  # a download refused before it was read holds no socket
        Image.update(reserved=stored.size).where(Image.id == image.id).execute()

    def _run_plugins(self, task: Task, image: Image) -> Image:
        """Run the import plugins on the staged file and record what they changed."""
        staged = StagedImage(
            path=self.rt.staging.path_for(image.id), disk_format=image.disk_format,
            container_format=image.container_format,
            importer_roles=frozenset(r.lower() for r in task.input.get(IMPORTER_ROLES, [])),
            size_cap=self.rt.settings.image_size_cap, formats=self.rt.settings.formats)
        if not os.path.isfile(staged.path):
            raise ImportFailed("The staged data is gone; stage the image again.")
        try:
            steps = import_plugins.run(self.rt.imports.plugins, staged,
                                       functools.partial(_report, task))
        except PluginFailed as exc:
            raise ImportFailed(f"Import plugin failed: {exc}. The image is queued again; "
                               "stage data the plugins accept and import again.") from None
        with database.atomic():
            if staged.changes:
                (Image.update(**staged.changes, updated_at=utcnow())
                 .where(Image.id == image.id).execute())
            for name, value in staged.properties.items():
                set_property(image.id, name, value)
            task.result = {**(task.result or {}), "plugins": steps}
            (Task.update(result=task.result, message="", updated_at=utcnow())
             .where(Task.id == task.id).execute())
        LOG.info("import plugins ran", extra={"task_id": task.id, "steps": steps})
        return Image.get(Image.id == image.id)

    def _source(self, image: Image, method: str):
        """A fresh iterator over the data to import, and its size."""
        if method == "copy-image":
            url, metadata = _first_location(image.id)
            handle = data.open_store_data(self.rt, url, metadata, 0, image.size or 0)
            return handle.iter_chunks(), image.size
        handle = self.rt.staging.open(self.rt.staging.url_for(image.id))
        return handle.iter_chunks(), handle.length

    def _import_to_stores(self, task: Task, image: Image, method: str, request: dict):
        stores = request["stores"]
        must_succeed = request["all_stores_must_succeed"]
        grant = StorageGrant(self.rt.quotas, image.id, image.owner)
        # Staged bytes are already counted; a copy is not counted again.
        grant.granted = image.size if method == "copy-image" else image.reserved
        done: list[str] = []
        failed: list[str] = []
        writer, size = None, None
        for store_id in stores:
            store = self.rt.stores.get(store_id)
            try:
                chunks, size = self._source(image, method)
                one = ImageWriter(self.rt, image, self.holder)
                one.grant = grant
                stored = one.write(store, chunks, size)
            except UnsafeImage as exc:
                raise ImportFailed(f"Image rejected by format inspection: {exc}") from None
            except Exception as exc:  # noqa: BLE001 - one store failing is reported per store
                LOG.warning("import to store failed", extra={
                    "task_id": task.id, "store": store_id, "error": str(exc)})
                failed.append(f"{store_id}: {_describe(exc, store_id)}")
                self._record_failure(image.id, store_id, stores, done)
                if must_succeed:
                    raise ImportFailed(f"Import to store {store_id} failed and "
                                       f"all_stores_must_succeed is true: {_describe(exc, store_id)}") \
                        from None
                continue
            if not self._record_success(task, image.id, store, stored, stores, done):
                store.delete(stored.url)
                raise ImportFailed("The image was deleted during its import.")
            writer, size = writer or one, stored.size
        return done, failed, writer, size

    # -- bookkeeping ---------------------------------------------------------------------
    def _record_success(self, task, image_id, store, stored, stores, done) -> bool:
        with database.atomic():
            if not Image.select().where(Image.id == image_id).exists():
                return False
            position = ImageLocation.select().where(ImageLocation.image == image_id).count()
            ImageLocation.create(image=image_id, url=stored.url, position=position,
                                 metadata=self.rt.stores.location_metadata(store))
            done.append(store.id)
            remaining = [s for s in stores if s not in done]
            set_property(image_id, IMPORTING_TO, ",".join(remaining))
            result = {**(task.result or {}), "stores_done": done,
                      "urls": _urls(task, stored.url)}
            Task.update(result=result, updated_at=utcnow()).where(Task.id == task.id).execute()
        task.result = result
        return True

    def _record_failure(self, image_id, store_id, stores, done) -> None:
        with database.atomic():
            failed = ImageProperty.get_or_none(ImageProperty.image == image_id,
                                               ImageProperty.name == FAILED_IMPORT)
            names = [n for n in (failed.value.split(",") if failed and failed.value else [])]
            set_property(image_id, FAILED_IMPORT, ",".join(names + [store_id]))
            set_property(image_id, IMPORTING_TO,
                         ",".join(s for s in stores if s not in done and s != store_id))

    def _finish(self, task: Task, image: Image, method: str, writer, size: int,
                failed: list[str]) -> None:
        with database.atomic():
            lifecycle.finish_import(image.id, None if method == "copy-image"
                                    else writer.facts(size))
            _unlock(image.id, task.id)
            message = ("" if not failed else
                       f"Imported, but these stores failed: {'; '.join(failed)}.")
            (Task.update(status="success", message=message, updated_at=utcnow())
             .where(Task.id == task.id).execute())
        if method != "copy-image":
            self.rt.staging.discard(image.id)
        LOG.info("import finished", extra={"task_id": task.id, "image_id": image.id})


def _report(task: Task, message: str) -> None:
    """What the task is doing now, for GET /v2/tasks/{id}."""
    Task.update(message=message, updated_at=utcnow()).where(Task.id == task.id).execute()


def _urls(task: Task, url: str) -> list[str]:
    return ((task.result or {}).get("urls") or []) + [url]


def _first_location(image_id: str) -> tuple[str, dict]:
    row = (ImageLocation.select().where(ImageLocation.image == image_id)
           .order_by(ImageLocation.position, ImageLocation.id).first())
    if row is None:
        raise ImportFailed("The image has no data to copy.")
    return row.url, row.metadata


def _describe(exc: BaseException, store_id: str | None = None) -> str:
    """Why, as the task's owner may read it: a store's own details (a path, an endpoint)
    stay in the log."""
    if isinstance(exc, StoreError):
        message = exc.shown(store_id or "", detailed=False)
    else:
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return message.rstrip(".")


def _unlock(image_id: str, task_id: str) -> None:
    ImageProperty.delete().where(ImageProperty.image == image_id,
                                 ImageProperty.name == IMPORT_TASK,
                                 ImageProperty.value == task_id).execute()
    set_property(image_id, IMPORTING_TO, "")


def fail_task(rt: Runtime, task: Task, message: str) -> None:
    """Undo what the task added and mark it failed: nothing half-imported stays.

    A copy-image leaves the image active with its old copies; glance-direct and
    web-download put it back to queued with its staged data removed.
    """
    result = task.result or {}
    request = task.input or {}
    method = request.get("method", {}).get("name")
    added = result.get("urls") or []
    dropped: list[tuple[str, dict]] = []
    with database.atomic():
        rows = list(ImageLocation.select().where(ImageLocation.image == task.image_id,
                                                 ImageLocation.url.in_(added)))
        dropped = [(row.url, row.metadata) for row in rows]
        ImageLocation.delete().where(ImageLocation.id.in_([row.id for row in rows])).execute()
        if method != "copy-image":
            lifecycle.fail_import(task.image_id)
        if Image.select().where(Image.id == task.image_id).exists():
            _unlock(task.image_id, task.id)
            # Everything the task added is gone again: every target store failed.
            set_property(task.image_id, FAILED_IMPORT, ",".join(request.get("stores", [])))
        (Task.update(status="failure", message=message, updated_at=utcnow())
         .where(Task.id == task.id).execute())
    locations.delete_owned_data(rt, task.image_id, dropped)
    if method != "copy-image":
        rt.staging.discard(task.image_id)
    LOG.warning("import failed", extra={"task_id": task.id, "image_id": task.image_id,
                                        "error": message})
