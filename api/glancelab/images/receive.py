"""Receiving image data: the one write path that upload (PUT /file) and stage share.

The size cap and the project's storage quota hold mid-stream (no byte past a limit reaches
the store), md5 and sha512 are computed on the way, and format inspection refuses unsafe
data; any failure makes the store discard what it wrote and gives the image back (queued).
"""

from __future__ import annotations

import logging
from typing import BinaryIO, Iterator

from glancelab import errors
from glancelab.db import UNAVAILABLE, release
from glancelab.db.models import Image
from glancelab.db import statuses
from glancelab.formats import FormatGuard, UnsafeImage
from glancelab.images import lifecycle, settling
from glancelab.images.digest import ParallelDigest
from glancelab.quotas.service import StorageGrant
from glancelab.runtime import Runtime
from glancelab.stores import (Store, Stored, StoreError, StoreFull, StoreInUse,
                              StoreUnavailable)

LOG = logging.getLogger(__name__)

READ_CHUNK = 1024 * 1024


class UploadInterrupted(Exception):
    """The request body ended before its Content-Length, or the client went away."""


class SizeMismatch(Exception):
    """The data is not the size x-openstack-image-size announced."""


IMAGE_SIZE_HEADER = "x-openstack-image-size"


def announced_size(header: str | None) -> int | None:
    """x-openstack-image-size (API 2.18), as Glance reads it: absent, or a whole number."""
    if header is None:
        return None
    if not header.strip().isdigit():
        raise errors.bad_request("Invalid or missing image size in request headers.")
    return int(header)


def read_request(stream: BinaryIO, expected: int | None,
                 announced: int | None = None) -> Iterator[bytes]:
    """The request body as chunks; UploadInterrupted when it ends early or fails,
    SizeMismatch as soon as it is not the announced size."""
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
        if announced is not None and total > announced:
            raise SizeMismatch(f"the data is more than the {announced} bytes "
                               f"{IMAGE_SIZE_HEADER} announced")
        yield chunk
    if expected is not None and total != expected:
        raise UploadInterrupted(f"the request body ended after {total} of {expected} bytes")
    if announced is not None and total != announced:
        raise SizeMismatch(f"the data is {total} bytes, not the {announced} bytes "
                           f"{IMAGE_SIZE_HEADER} announced")


class ImageWriter:
    """Streams image data into one store under every rule an upload obeys."""

    def __init__(self, rt: Runtime, image: Image, holder: str, staging: bool = False):
        self.rt = rt
        self.image = image
        self.holder = holder
        self.cap = rt.settings.image_size_cap
        self.cap_message = (f"Image exceeds the storage quota: image_size_cap is {self.cap} "
                            "bytes; upload a smaller image or raise image_size_cap.")
        self.grant = StorageGrant(rt.quotas, image.id, image.owner, staging=staging)
        # Staged data may be an archive image_decompression unpacks: its content is held
        # to the disk_format when it reaches a store, its safety checked now.
        unpacked_later = staging and rt.imports.plugins.decompresses
        self.guard = FormatGuard(None if unpacked_later else image.disk_format,
                                 rt.settings.formats)
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
        # An unsafe image is refused as soon as its header shows it.
        for chunk in self.guard.inspect(chunks):
            total += len(chunk)
            if total > self.cap:
                raise errors.too_large(self.cap_message)
            self.grant.cover(total)
            digest.update(chunk)
            yield chunk
        self.guard.finish()  # raising here makes the store discard what it wrote

    def facts(self, size: int) -> lifecycle.DataFacts:
        result = self.guard.result
        return lifecycle.DataFacts(size=size, checksum=self.checksum, os_hash_algo="sha512",
                                   os_hash_value=self.hash_value,
                                   virtual_size=result.virtual_size if result else None)


def receive(rt: Runtime, image: Image, stream: BinaryIO, content_length: int | None,
            store: Store, status: str, announced: int | None = None,
            detailed: bool = False) -> tuple[Stored, ImageWriter]:
    """Claim the queued image (`status`: saving or uploading) and write the request body.

    `announced` (x-openstack-image-size) stands for the data's size where Content-Length
    would: the size cap and the quota judge it before a byte is read.
    On any failure the image is queued again, nothing stays in the store, and the error
    raised is the HTTP answer.
    """
    holder = lifecycle.writer_id()
    size = announced if announced is not None else content_length
    writer = ImageWriter(rt, image, holder, staging=status == statuses.UPLOADING)
    writer.check_cap(size)
    lifecycle.claim(image, holder, status)
    try:
        writer.grant.start(size)
        release()  # a long transfer holds no database connection; the next query takes one
        stored = writer.write(store, read_request(stream, content_length, announced), size)
    except BaseException as exc:
        try:
            lifecycle.release(image.id, holder, status)
        except UNAVAILABLE:  # the store discarded the data; the claim goes when it answers
            settling.settle_later(settling.Unsettled(image.id, holder, status))
        LOG.warning("receiving image data failed; image back to queued",
                    extra={"image_id": image.id, "store": store.id, "error": str(exc)})
        # what the client still sends is dropped by web/body.py's UnreadBody
        raise as_http_error(exc, store.id, detailed=detailed) from exc
    return stored, writer


def as_http_error(exc: BaseException, store_id: str, state: str = "queued",
                  detailed: bool = False) -> BaseException:
    """The answer for a failed write; a store's own details (paths, endpoints) only when
    `detailed` (admins), always in the log."""
    again = f"The image is {state} again."
    if isinstance(exc, errors.GlanceError):
        return exc
    if isinstance(exc, UnsafeImage):
        return errors.bad_request(f"Image rejected by format inspection: {exc} Nothing was "
                                  f"kept; {again[0].lower()}{again[1:]}")
    if isinstance(exc, UploadInterrupted) and isinstance(exc.__cause__, TimeoutError):
        return errors.TimedOut(f"Upload aborted: {exc}. Nothing was kept; the image "
                                       f"is {state} again, retry the upload.")
    if isinstance(exc, SizeMismatch):
        return errors.bad_request(f"Upload refused: {exc}. Nothing was kept; the image is "
                                  f"{state} again.")
    if isinstance(exc, UploadInterrupted):
        return errors.bad_request(f"Upload aborted: {exc}. Nothing was kept; the image is "
                                  f"{state} again, retry the upload.")
    if isinstance(exc, StoreError):
        shown = exc.shown(store_id, detailed)
        if isinstance(exc, StoreFull):
            return errors.too_large(f"{shown}. {again}")
        if isinstance(exc, StoreUnavailable):
            return errors.unavailable(f"{shown}. {again} Retry when store {store_id} is back.")
        if isinstance(exc, StoreInUse):
            return errors.conflict(f"{shown}. {again}")
        return errors.unavailable(f"{shown}. {again}")  # cannot do it now; the log says why
    return exc
