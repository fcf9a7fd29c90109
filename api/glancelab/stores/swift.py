"""Swift backend (python-swiftclient), configured with Glance's swift_store_* keys.

Images up to swift_store_large_object_size go up as one streamed PUT; larger ones (and
uploads of unknown size) as segments of swift_store_large_object_chunk_size joined by a
static large object manifest. Segments stream straight from the request, one after the
other; while Swift still writes one (its object servers answer only after their fsync),
the next is already on its way, up to SEGMENTS_IN_FLIGHT at once, so memory stays one
chunk per segment. A failed upload deletes every segment it started (or, when Swift is
away or the process died, the undo log does it later: stores/undo.py), and the image's own
object exists only once its PUT or manifest completes.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import secrets
import threading
from typing import Iterable
from urllib.parse import urlparse

from glancelab.stores.base import ReadHandle, Store, Stored, is_image_id, required_options
from glancelab.stores.errors import StoreError, StoreUnavailable
from glancelab.stores.chunking import ChunkReader, Pieces

MiB = 1024 * 1024
READ_CHUNK = MiB
SEGMENTS_IN_FLIGHT = 3


class SwiftStore(Store):
    type = "swift"
    url_schemes = ("swift+config",)

    @classmethod
    def from_options(cls, store_id: str, group, description: str) -> "SwiftStore":
        auth, user, key = required_options(store_id, group, "swift_store_auth_address",
                                           "swift_store_user", "swift_store_key")
        return cls(
            store_id, auth, user, key,
            auth_version=group.swift_store_auth_version,
            container=group.swift_store_container,
            create_container_on_put=group.swift_store_create_container_on_put,
            large_object_size=group.swift_store_large_object_size * MiB,
            chunk_size=group.swift_store_large_object_chunk_size * MiB,
            project_domain=group.swift_store_project_domain,
            user_domain=group.swift_store_user_domain,
            description=description)

    def __init__(self, store_id: str, auth_address: str, user: str, key: str,
                 auth_version: str = "1", container: str = "glance",
                 create_container_on_put: bool = False, large_object_size: int = 5120 * MiB,
                 chunk_size: int = 200 * MiB, project_domain: str = "default",
                 user_domain: str = "default", description: str = ""):
        super().__init__(store_id, description)
        self.auth_address = auth_address
        self.user, self.key, self.auth_version = user, key, str(auth_version)
        self.container = container
        self.create_container_on_put = create_container_on_put
        self.large_object_size = large_object_size
        self.chunk_size = chunk_size
        self.project_domain, self.user_domain = project_domain, user_domain
        self._local = threading.local()
        self._container_ready = False

    @property
    def connection(self):
        # swiftclient connections are not thread-safe: one per thread (and per process).
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            import swiftclient
            options = {}
            user = self.user
            tenant = None
            if self.auth_version != "1" and ":" in user:
                tenant, user = user.split(":", 1)
                options = {"project_name": tenant, "project_domain_name": self.project_domain,
                           "user_domain_name": self.user_domain}
            conn = swiftclient.Connection(authurl=self.auth_address, user=user, key=self.key,
                                          auth_version=self.auth_version, tenant_name=tenant,
                                          os_options=options, retries=1, timeout=30,
                                          starting_backoff=0.5)
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def _error(self, exc: Exception, doing: str) -> StoreError:
        from swiftclient.exceptions import ClientException
        if isinstance(exc, StoreError):
            return exc
        where = f"store {self.id!r} (swift at {self.auth_address}, container {self.container})"
        if isinstance(exc, ClientException):
            status = exc.http_status or 0
            if status == 401 or "Unauthorized" in str(exc) or "Auth GET failed" in str(exc) \
                    and status in (401, 403):
                return StoreError(f"{where} rejected the credentials while {doing}: check "
                                  "swift_store_user and swift_store_key")
            if status == 404 and "container" in doing:
                return StoreError(f"{where}: the container does not exist; create it or set "
                                  "swift_store_create_container_on_put = true")
            if status == 0 or status >= 500:
                return StoreUnavailable(f"{where} failed while {doing}: {exc}")
            return StoreError(f"{where} refused {doing}: {exc}")
        if isinstance(exc, (OSError, ConnectionError)) or \
                type(exc).__module__.startswith(("requests", "urllib3")):
            return StoreUnavailable(f"{where} is unreachable while {doing}: {exc}")
        return StoreError(f"{where} failed while {doing}: {exc}")

    def _ensure_container(self) -> None:
        if self._container_ready:
            return
        from swiftclient.exceptions import ClientException
        try:
            self.connection.head_container(self.container)
        except ClientException as exc:
            if exc.http_status != 404 or not self.create_container_on_put:
                raise
            self.connection.put_container(self.container)
        self._container_ready = True

    def write(self, image_id: str, chunks: Iterable[bytes], size_hint: int | None,
              holder: str) -> Stored:
        try:
            self._ensure_container()
        except Exception as exc:
            raise self._error(exc, "checking the container") from exc
        if size_hint is not None and size_hint <= self.large_object_size:
            stored = self._put_single(image_id, chunks, size_hint)
        else:
            stored = self._put_segmented(image_id, chunks, holder)
        self.undo_log.store_is_back(self)
        return stored

    def _put_single(self, name: str, chunks: Iterable[bytes], size: int) -> Stored:
        counted = ChunkReader(chunks)
        try:
            self.connection.put_object(self.container, name, contents=counted,
                                       content_length=size, chunk_size=READ_CHUNK)
        except Exception as exc:
            if counted.error is not None:  # the upload itself failed, not Swift
                raise counted.error from exc
            raise self._error(exc, f"writing {name}") from exc
        return Stored(url=self._url(name), size=counted.size)

    def _put_segmented(self, name: str, chunks: Iterable[bytes], holder: str) -> Stored:
        # Segments are named for this write alone, so undoing it (now, or later from the
        # undo log) can never remove the segments of another write of the same image.
        prefix = f"{name}-{secrets.token_hex(4)}-"
        record = self.undo_log.begin(self.id, f"{self.container}/{prefix}", "segments", holder)
        started: list[str] = []
        in_flight: list[tuple[str, ChunkReader, concurrent.futures.Future]] = []
        segments: list[dict] = []
        try:
            with concurrent.futures.ThreadPoolExecutor(SEGMENTS_IN_FLIGHT) as pool:
                try:
                    for number, piece in enumerate(Pieces(chunks, self.chunk_size), start=1):
                        while len(in_flight) >= SEGMENTS_IN_FLIGHT:
                            segments.append(self._finished(*in_flight.pop(0)))
                        segment = f"{prefix}{number:05d}"
                        counted = ChunkReader(piece)
                        started.append(segment)
                        future = pool.submit(self._put_segment, segment, counted)
                        # The next piece reads the same request: wait until this one has
                        # it all (or failed); Swift's answer for it comes in its own time.
                        counted.ended.wait()
                        in_flight.append((segment, counted, future))
                        if counted.error is not None or (future.done() and future.exception()):
                            self._finished(*in_flight.pop())  # raises what went wrong
                    while in_flight:
                        segments.append(self._finished(*in_flight.pop(0)))
                finally:
                    concurrent.futures.wait([future for _, _, future in in_flight])
            if not segments:  # an empty image is one empty object
                self.undo_log.done(record)
                return self._put_single(name, iter(()), 0)
            try:
                self.connection.put_object(self.container, name, contents=json.dumps(segments),
                                           query_string="multipart-manifest=put")
            except Exception as exc:
                raise self._error(exc, f"writing the manifest of {name}") from exc
        except BaseException:
            try:
                self._undo_segments(self.container, prefix, started)
                self.undo_log.done(record)
            except StoreError:  # Swift is away: the segments wait in the undo log
                self.undo_log.stuck(self, record)
            raise
        self.undo_log.done(record)  # the manifest owns its segments now
        return Stored(url=self._url(name), size=sum(s["size_bytes"] for s in segments))

    def _put_segment(self, segment: str, counted: ChunkReader) -> str:
        try:
            return self.connection.put_object(self.container, segment, contents=counted,
                                              chunk_size=READ_CHUNK)
        finally:
            counted.ended.set()  # Swift failed before reading it all: the feeder goes on

    def _finished(self, segment: str, counted: ChunkReader,
                  future: concurrent.futures.Future) -> dict:
        try:
            etag = future.result()
        except Exception as exc:
            if counted.error is not None:  # the upload itself failed, not Swift
                raise counted.error from exc
            raise self._error(exc, f"writing segment {segment}") from exc
        if counted.error is not None:
            raise counted.error
        return {"path": f"/{self.container}/{segment}", "etag": etag,
                "size_bytes": counted.size}

    def undo(self, key: str, ref: str) -> None:
        """Delete the segments of one failed write: `key` is container/segment-prefix."""
        container, _, prefix = key.partition("/")
        self._undo_segments(container, prefix, [])

    def _undo_segments(self, container: str, prefix: str, known: list[str]) -> None:
        """The segments named `known`, then whatever the listing shows (it may lag)."""
        from swiftclient.exceptions import ClientException
        try:
            _, listed = self.connection.get_container(container, prefix=prefix,
                                                      full_listing=True)
            for name in dict.fromkeys([*known, *(segment["name"] for segment in listed)]):
                try:
                    self.connection.delete_object(container, name)
                except ClientException as exc:
                    if exc.http_status != 404:  # already gone is what we want
                        raise
        except ClientException as exc:
            if exc.http_status != 404:  # no container: nothing of it is left
                raise self._error(exc, f"deleting the segments {prefix}*") from exc
        except Exception as exc:
            raise self._error(exc, f"deleting the segments {prefix}*") from exc

    def _url(self, name: str) -> str:
        return f"swift+config://{self.id}/{self.container}/{name}"

    @staticmethod
    def _split(url: str) -> tuple[str, str]:
        container, _, name = urlparse(url).path.lstrip("/").partition("/")
        return container, name

    def open(self, url: str, offset: int = 0, length: int | None = None) -> ReadHandle:
        container, name = self._split(url)
        headers = {}
        if length is not None:
            if length <= 0:
                return ReadHandle(length=0, chunks=iter(()))
            headers["Range"] = f"bytes={offset}-{offset + length - 1}"
        elif offset:
            headers["Range"] = f"bytes={offset}-"
        try:
            response_headers, body = self.connection.get_object(
                container, name, resp_chunk_size=READ_CHUNK, headers=headers)
        except Exception as exc:
            raise self._error(exc, f"reading {name}") from exc
        return ReadHandle(length=int(response_headers["content-length"]), chunks=iter(body))

    def delete(self, url: str) -> None:
        from swiftclient.exceptions import ClientException
        container, name = self._split(url)
        try:
            # On a manifest this removes the segments too; on a plain object it is a delete.
            self.connection.delete_object(container, name,
                                          query_string="multipart-manifest=delete")
        except ClientException as exc:
            if exc.http_status != 404:
                raise self._error(exc, f"deleting {name}") from exc
        except Exception as exc:
            raise self._error(exc, f"deleting {name}") from exc

    def check(self) -> None:
        try:
            self.connection.get_auth()
            self._ensure_container()
        except Exception as exc:
            raise self._error(exc, "checking the container") from exc

    def properties(self) -> dict:
        return {"swift_store_auth_address": self.auth_address,
                "swift_store_container": self.container,
                "swift_store_large_object_size": self.large_object_size // MiB,
                "swift_store_large_object_chunk_size": self.chunk_size // MiB}

    def owns(self, url: str) -> bool:
        # Only the objects it writes (named by image id): a registered object is only read.
        return url.startswith(f"swift+config://{self.id}/{self.container}/") and \
            is_image_id(url.rsplit("/", 1)[-1])

