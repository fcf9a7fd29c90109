"""Image data: atomic, streamed upload and ranged, streamed download."""

from __future__ import annotations

import json
import logging
import re
from typing import BinaryIO, Iterator

from glancelab import errors
from glancelab.context import RequestContext
from glancelab.db import database
from glancelab.db.models import LOCATIONS_OF, Image, ImageLocation, utcnow
from glancelab.formats import FormatGuard, UnsafeImage
from glancelab.runtime import Runtime, upload_holder
from glancelab.services import access
from glancelab.services.digest import ParallelDigest
from glancelab.services.quotas import StorageGrant
from glancelab.stores import (ReadHandle, Store, Stored, StoreError, StoreFull, StoreUnavailable,
                              file_chunks)

LOG = logging.getLogger(__name__)

READ_CHUNK = 1024 * 1024
# After a failed upload, read (and drop) up to this much of what the client is still
# sending, so that a client that only reads the response once its body is sent gets our
# error instead of a reset connection. Beyond it the connection is closed.
DRAIN_LIMIT = 256 * 1024 * 1024


class UploadInterrupted(Exception):
    """The request body ended before its Content-Length, or the client went away."""


def read_request(stream: BinaryIO, expected: int | None) -> Iterator[bytes]:
    """The request body as chunks; UploadInterrupted when it ends early or fails."""
    total = 0
    while True:
        try:
            chunk = stream.read(READ_CHUNK)
        except Exception as exc:  # the WSGI server's own "client went away" errors
            raise UploadInterrupted(f"reading the request body failed after {total} bytes: "
                                    f"{exc}") from exc
        if not chunk:
            break
        total += len(chunk)
        yield chunk
    if expected is not None and total != expected:
        raise UploadInterrupted(f"the request body ended after {total} of {expected} bytes")


class ImageWriter:
    """Streams image data into one store under every rule an upload obeys.

    The size cap and the project's storage quota hold mid-stream (no byte past a limit
    reaches the store), md5 and sha512 are computed on the way, and format inspection
    refuses unsafe data; any failure makes the store discard what it wrote.
    """

    def __init__(self, rt: Runtime, image: Image, holder: str):
        self.rt = rt
        self.image = image
        self.holder = holder
        self.cap = rt.settings.image_size_cap
        self.cap_message = (f"Image exceeds the storage quota: image_size_cap is {self.cap} "
                            "bytes; upload a smaller image or raise image_size_cap.")
        self.grant = StorageGrant(rt.quotas, image.id, image.owner)
        self.guard = FormatGuard(image.disk_format, rt.settings.formats)
        self.checksum: str | None = None
        self.hash_value: str | None = None

    def check_cap(self, content_length: int | None) -> None:
        """Before claiming the image: refuse a declared size over image_size_cap."""
        if content_length is not None and content_length > self.cap:
            raise errors.too_large(self.cap_message)

    def write(self, store: Store, chunks: Iterator[bytes], size_hint: int | None) -> Stored:
        digest = ParallelDigest()
        try:
            stored = store.write(self.image.id, self._checked(chunks, digest), size_hint,
                                 self.holder)
            self.checksum, self.hash_value = digest.hexdigests()
            return stored
        finally:
            digest.close()

    def _checked(self, chunks: Iterator[bytes], digest: ParallelDigest) -> Iterator[bytes]:
        total = 0
        for chunk in chunks:
            total += len(chunk)
            if total > self.cap:
                raise errors.too_large(self.cap_message)
            self.grant.cover(total)
            digest.update(chunk)
            self.guard.feed(chunk)  # an unsafe image is refused as soon as its header shows it
            yield chunk
        self.guard.finish()  # raising here makes the store discard what it wrote

    @property
    def virtual_size(self) -> int | None:
        return self.guard.result.virtual_size if self.guard.result else None


def target_store(rt: Runtime, store_id: str | None) -> Store:
    store = rt.stores.default
    if store_id:
        store = rt.stores.get(store_id)
        if store is None or not rt.stores.multistore:
            raise errors.bad_request(f"Store for identifier {store_id} not found; see "
                                     "GET /v2/info/stores for the available stores.")
    if not store.writable:
        raise errors.bad_request(f"Store {store.id} is read-only; choose another store.")
    return store


def claim(image: Image, holder: str, source: str, target: str) -> None:
    """Move a queued image to `target` for this holder, or 409 saying why not."""
    claimed = (Image.update(status=target, upload_owner=holder, updated_at=utcnow())
               .where(Image.id == image.id, Image.status == source).execute())
    if not claimed:
        current = Image.get_or_none(Image.id == image.id)
        status = current.status if current else "deleted"
        raise errors.conflict(f"Image status transition from {status} to {target} is not "
                              f"allowed: data can be sent only to a {source} image.")


def release(image_id: str, holder: str, status: str) -> None:
    (Image.update(status="queued", upload_owner=None, reserved=0, updated_at=utcnow())
     .where(Image.id == image_id, Image.status == status, Image.upload_owner == holder)
     .execute())


def upload(rt: Runtime, ctx: RequestContext, image_id: str, stream: BinaryIO,
           content_length: int | None, store_id: str | None = None) -> Image:
    image = access.get_visible_image(ctx, image_id)
    access.require_modify(ctx, image, "upload_image")
    store = target_store(rt, store_id)
    holder = upload_holder()
    writer = ImageWriter(rt, image, holder)
    writer.check_cap(content_length)
    claim(image, holder, "queued", "saving")
    try:
        writer.grant.start(content_length)
        stored = writer.write(store, read_request(stream, content_length), content_length)
    except BaseException as exc:
        release(image.id, holder, "saving")
        LOG.warning("upload failed; image back to queued",
                    extra={"image_id": image.id, "error": str(exc)})
        if not isinstance(exc, UploadInterrupted):
            drain(stream)
        raise as_http_error(exc, store.id) from exc
    return _finish_upload(rt, image.id, holder, store, stored, writer)


def drain(stream: BinaryIO) -> None:
    drained = 0
    try:
        while drained < DRAIN_LIMIT and (chunk := stream.read(READ_CHUNK)):
            drained += len(chunk)
    except Exception:  # noqa: BLE001 - the client went away: nothing left to answer
        pass


def _finish_upload(rt, image_id, holder, store, stored, writer: ImageWriter) -> Image:
    with database.atomic():
        done = (Image.update(status="active", upload_owner=None, size=stored.size, reserved=0,
                             virtual_size=writer.virtual_size,
                             checksum=writer.checksum, os_hash_algo="sha512",
                             os_hash_value=writer.hash_value, updated_at=utcnow())
                .where(Image.id == image_id, Image.status == "saving",
                       Image.upload_owner == holder)
                .execute())
        if done:
            ImageLocation.create(image=image_id, url=stored.url,
                                 metadata=json.dumps(rt.stores.location_metadata(store)))
    if not done:
        # Deleted (or recovered) while we were writing: keep nothing behind.
        store.delete(stored.url)
        raise errors.GlanceError(410, f"Image {image_id} was deleted during the upload; "
                                      "its data was discarded.")
    LOG.info("image uploaded", extra={"image_id": image_id, "size": stored.size,
                                      "store": store.id})
    return Image.get(Image.id == image_id)


def as_http_error(exc: BaseException, store_id: str, state: str = "queued") -> BaseException:
    again = f"The image is {state} again."
    if isinstance(exc, errors.GlanceError):
        return exc
    if isinstance(exc, UnsafeImage):
        return errors.bad_request(f"Image rejected by format inspection: {exc} Nothing was "
                                  f"kept; {again[0].lower()}{again[1:]}")
    if isinstance(exc, UploadInterrupted):
        return errors.bad_request(f"Upload aborted: {exc}. Nothing was kept; the image is "
                                  f"{state} again, retry the upload.")
    if isinstance(exc, StoreFull):
        return errors.too_large(f"{exc}. {again}")
    if isinstance(exc, StoreUnavailable):
        return errors.unavailable(f"{exc}. {again} Retry when store {store_id} is back.")
    if isinstance(exc, StoreError):
        return errors.GlanceError(500, f"{exc}. {again}")
    return exc


# -- download -----------------------------------------------------------------------------

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class Download:
    def __init__(self, handle: ReadHandle | None, image: Image, first: int = 0,
                 last: int | None = None, partial: bool = False):
        self.handle = handle
        self.image = image
        self.first = first
        self.last = last
        self.partial = partial


def parse_range(header: str, size: int) -> tuple[int, int]:
    """(first, last) byte positions, inclusive, for a single 'bytes=' range."""
    match = _RANGE.match(header.strip())
    if not match or match.groups() == ("", ""):
        raise errors.bad_request(f"Invalid Range header {header!r}: use a single range such "
                                 "as bytes=0-1023, bytes=1024- or bytes=-512.")
    start, end = match.groups()
    if start == "":
        length = int(end)
        if length == 0:
            raise _unsatisfiable(header, size)
        return max(size - length, 0), size - 1
    first = int(start)
    last = min(int(end), size - 1) if end else size - 1
    if end and int(end) < first:
        raise errors.bad_request(f"Invalid Range header {header!r}: the end is before the start.")
    if first >= size:
        raise _unsatisfiable(header, size)
    return first, last


def _unsatisfiable(header: str, size: int) -> errors.GlanceError:
    return errors.GlanceError(416, f"Requested range {header} is not satisfiable: the image "
                                   f"has {size} bytes.", headers={"Content-Range": f"bytes */{size}"})


def open_download(rt: Runtime, ctx: RequestContext, image_id: str,
                  range_header: str | None) -> Download:
    image = access.get_visible_image(ctx, image_id)
    if image.status == "deactivated" and not ctx.is_admin:
        raise errors.forbidden("The requested image has been deactivated. Image data download "
                               "is forbidden.")
    locations = LOCATIONS_OF.rows(image.id)
    if image.status not in ("active", "deactivated") or not locations:
        return Download(None, image)  # no data yet: 204
    url, metadata = locations[0]
    size = image.size or 0
    first, last, partial = 0, size - 1, False
    if range_header:
        first, last = parse_range(range_header, size)
        partial = True
    if rt.cache is not None and image.status == "active":
        cached = rt.cache.open_cached(image.id, image.size, image.checksum)
        if cached is not None:
            cached.seek(first)
            return Download(ReadHandle(length=last - first + 1, file=cached), image, first,
                            last, partial)
    handle = open_store_data(rt, url, json.loads(metadata), first, last - first + 1)
    if rt.cache is not None and image.status == "active" and not partial:
        # First full download: tee it into the cache (through Python, not sendfile).
        handle = ReadHandle(length=handle.length, chunks=rt.cache.tee(
            image.id, image.size, image.checksum, iter_chunks(handle)))
    return Download(handle, image, first, last, partial)


def open_store_data(rt: Runtime, url: str, metadata: dict, offset: int, length: int) -> ReadHandle:
    store = rt.stores.for_location(url, metadata)
    try:
        return store.open(url, offset=offset, length=length)
    except StoreUnavailable as exc:
        raise errors.unavailable(f"{exc}; retry later.") from exc
    except StoreError as exc:
        raise errors.GlanceError(500, str(exc)) from exc


def iter_chunks(handle: ReadHandle) -> Iterator[bytes]:
    """The data of a read handle as chunks, whether it is a file or already chunks."""
    if handle.file is None:
        yield from handle.chunks
        return
    try:
        yield from file_chunks(handle.file, handle.length, READ_CHUNK)
    finally:
        handle.close()
