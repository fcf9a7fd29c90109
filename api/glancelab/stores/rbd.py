"""Ceph RBD backend (librbd), configured with Glance's rbd_store_* keys.

An image is one RBD image in rbd_store_pool, named by the image id, with a protected
snapshot `snap` so Nova or Cinder can clone it copy-on-write; its location is
rbd://<fsid>/<pool>/<image>/snap, as glance_store writes it. Data is written under a
temporary name (.tmp-<host>-<pid>-<image id>), snapshotted, then renamed: a name without
that prefix is always a finished image, and the temporary images of a dead process are
removed when its host's service starts again.

librados is thread-safe: one cluster connection per process (made after gunicorn forks),
one I/O context per operation.
"""

from __future__ import annotations

import collections
import logging
import math
import os
import threading
import time
from typing import Iterable, Iterator
from urllib.parse import unquote, urlparse

from glancelab.conf import ConfigError
from glancelab.stores.base import ReadHandle, Store, Stored, is_image_id, temp_name, temp_prefix
from glancelab.stores.errors import StoreError, StoreFull, StoreInUse, StoreUnavailable
from glancelab.stores.chunking import Pieces

MiB = 1024 * 1024
LOG = logging.getLogger(__name__)
SNAPSHOT = "snap"
# librados waits forever for an OSD or monitor by default: a request must end in a 503.
OP_TIMEOUT_SECONDS = "30"
GROWTH_LIMIT = 1 << 30
# Object-sized reads or writes librbd runs while the API receives or sends the previous
# one: memory per transfer stays at IN_FLIGHT + 1 chunks.
IN_FLIGHT = 2
# Connections made before gunicorn forked: a worker must neither use nor shut them down
# (librados's threads did not come along), so it keeps a reference and never frees them.
_INHERITED: list = []


class RbdLocation:
    """rbd://fsid/pool/image/snapshot, or the old rbd://image (in the store's pool)."""

    def __init__(self, url: str):
        parsed = urlparse(url)
        if parsed.scheme != "rbd":
            raise StoreError(f"{url} is not an rbd:// location")
        parts = [unquote(part) for part in (parsed.netloc + parsed.path).split("/")]
        if len(parts) == 4 and all(parts):
            self.fsid, self.pool, self.image, self.snapshot = parts
        elif len(parts) == 1 and parts[0]:
            self.fsid = self.pool = self.snapshot = None
            self.image = parts[0]
        else:
            raise StoreError(f"{url}: an rbd location is rbd://FSID/POOL/IMAGE/SNAPSHOT")


class RbdStore(Store):
    type = "rbd"
    url_schemes = ("rbd",)

    @classmethod
    def from_options(cls, store_id: str, group, description: str) -> "RbdStore":
        try:
            return cls(store_id, group.rbd_store_pool, group.rbd_store_user,
                       group.rbd_store_ceph_conf, group.rbd_store_chunk_size * MiB,
                       connect_timeout=group.rados_connect_timeout,
                       thin_provisioning=group.rbd_thin_provisioning, description=description)
        except StoreError as exc:
            raise ConfigError(str(exc)) from None

    def __init__(self, store_id: str, pool: str, user: str | None, ceph_conf: str,
                 chunk_size: int, connect_timeout: int = 10, thin_provisioning: bool = False,
                 description: str = ""):
        super().__init__(store_id, description)
        if chunk_size & (chunk_size - 1):
            raise StoreError(f"store {store_id!r}: rbd_store_chunk_size must be a power of "
                             "two (RADOS object sizes are)")
        self.pool = pool
        self.user = user or None
        self.ceph_conf = ceph_conf
        self.chunk_size = chunk_size
        self.order = int(math.log2(chunk_size))
        self.connect_timeout = connect_timeout
        self.thin_provisioning = thin_provisioning
        self._cluster = None
        self._cluster_pid = None
        self._fsid: str | None = None
        self._lock = threading.Lock()
        self._zeros = b""

    # -- connection and errors ---------------------------------------------------------------
    def _where(self) -> str:
        return f"store {self.id!r} (ceph pool {self.pool} as client.{self.user or 'admin'})"

    def _connected(self):
        import rados
        with self._lock:
            if self._cluster is not None and self._cluster_pid == os.getpid():
                return self._cluster
            if self._cluster is not None:
                _INHERITED.append(self._cluster)
                self._cluster = None
            if not os.path.isfile(self.ceph_conf):
                raise StoreError(f"{self._where()}: rbd_store_ceph_conf {self.ceph_conf} "
                                 "does not exist; point it at the cluster's ceph.conf")
            cluster = rados.Rados(conffile=self.ceph_conf, rados_id=self.user)
            for option in ("rados_osd_op_timeout", "rados_mon_op_timeout"):
                if cluster.conf_get(option) in ("0", "0.000000", None):
                    cluster.conf_set(option, OP_TIMEOUT_SECONDS)
            if self.connect_timeout:
                cluster.conf_set("client_mount_timeout", str(self.connect_timeout))
            try:
                cluster.connect(timeout=self.connect_timeout or 0)
            except Exception:
                cluster.shutdown()
                raise
            self._fsid = cluster.get_fsid()
            self._cluster, self._cluster_pid = cluster, os.getpid()
            return cluster

    def _ioctx(self, pool: str | None = None):
        return self._connected().open_ioctx(pool or self.pool)

    def _error(self, exc: Exception, doing: str) -> StoreError:
        import rados
        import rbd
        if isinstance(exc, StoreError):
            return exc
        where = self._where()
        if isinstance(exc, rbd.ImageBusy):
            return StoreInUse(f"{where}: the image's snapshot has clones (a Nova or Cinder "
                              f"disk made from it) while {doing}; flatten or delete them first")
        if isinstance(exc, rbd.NoSpace) or getattr(exc, "errno", None) == 28:
            return StoreFull(f"{where} is full while {doing}; add OSDs or free space")
        if isinstance(exc, (rados.PermissionDeniedError, rbd.PermissionError)):
            return StoreError(f"{where} was refused {doing}: check the client's caps "
                              "(profile rbd pool=...) and its keyring")
        if isinstance(exc, (rados.ObjectNotFound, rbd.ImageNotFound)):
            return StoreError(f"{where}: nothing found while {doing}")
        if isinstance(exc, (rados.TimedOut, rbd.Timeout, rados.ConnectionShutdown,
                            rbd.ConnectionShutdown)) or \
                getattr(exc, "errno", None) in (110, 108, 107, 111):
            return StoreUnavailable(f"{where} is unreachable while {doing}: {exc}")
        if isinstance(exc, rados.Error) and "connecting to the cluster" in str(exc):
            return StoreUnavailable(f"{where} is unreachable while {doing}: {exc}")
        return StoreError(f"{where} failed while {doing}: {exc}")

    @property
    def fsid(self) -> str:
        if self._fsid is None:
            try:
                self._connected()
            except Exception as exc:
                raise self._error(exc, "connecting") from exc
        return self._fsid

    def _url(self, name: str) -> str:
        return f"rbd://{self.fsid}/{self.pool}/{name}/{SNAPSHOT}"

    def _locate(self, url: str) -> RbdLocation:
        location = RbdLocation(url)
        if location.fsid is not None and location.fsid != self.fsid:
            raise StoreError(f"{url} is in Ceph cluster {location.fsid}; store {self.id!r} "
                             f"reaches cluster {self.fsid} only")
        return location

    # -- writing -----------------------------------------------------------------------------
    def write(self, image_id: str, chunks: Iterable[bytes], size_hint: int | None,
              holder: str) -> Stored:
        import rbd
        temp = temp_name(holder, image_id)
        try:
            ioctx = self._ioctx()
        except Exception as exc:
            raise self._error(exc, "connecting") from exc
        created = False
        try:
            rbd.RBD().create(ioctx, temp, size_hint or 0, order=self.order, old_format=False,
                             features=rbd.RBD_FEATURE_LAYERING)
            created = True
            with rbd.Image(ioctx, temp) as image:
                size = self._write_pieces(image, chunks, size_hint or 0)
                image.create_snap(SNAPSHOT)
                image.protect_snap(SNAPSHOT)
            self._rename_into_place(ioctx, temp, image_id)
            created = False
            return Stored(url=self._url(image_id), size=size)
        except BaseException as exc:
            if created:
                self._remove_quietly(ioctx, temp)
            if _is_ceph(exc):
                raise self._error(exc, f"writing image {image_id}") from exc
            raise
        finally:
            ioctx.close()

    def _rename_into_place(self, ioctx, temp: str, image_id: str) -> None:
        """An image already under this name is a finished write of an earlier attempt whose
        process died before its database commit (the image was requeued): it goes."""
        import rbd
        try:
            rbd.RBD().rename(ioctx, temp, image_id)
        except rbd.ImageExists:
            self._remove(ioctx, image_id)  # ImageBusy (clones of the stale one) stops here
            rbd.RBD().rename(ioctx, temp, image_id)

    def _write_pieces(self, image, chunks: Iterable[bytes], allocated: int) -> int:
        """Stream the chunks in object-sized writes, growing the image as data comes. Up to
        IN_FLIGHT writes run in librbd while the next chunk is received."""
        offset = 0
        pending: collections.deque = collections.deque()
        try:
            for piece in Pieces(chunks, self.chunk_size):
                data = b"".join(piece)
                end = offset + len(data)
                if end > allocated:  # grown geometrically (up to 1 GiB a step), trimmed at the end
                    _settle(pending, 0)
                    allocated = max(end, min(2 * allocated, allocated + GROWTH_LIMIT))
                    image.resize(allocated)
                if not (self.thin_provisioning and self._all_zeros(data)):
                    _settle(pending, IN_FLIGHT - 1)
                    # the buffer stays referenced until its write completes
                    pending.append((image.aio_write(data, offset, _ignore), data))
                offset = end
            _settle(pending, 0)
        finally:
            _wait_all(pending)  # librbd must be done with the image before it goes
        if allocated != offset:
            image.resize(offset)
        return offset

    def _all_zeros(self, data: bytes) -> bool:
        if len(self._zeros) < len(data):
            self._zeros = bytes(len(data))
        return data == self._zeros[:len(data)]

    def _remove_quietly(self, ioctx, name: str) -> None:
        try:
            self._remove(ioctx, name)
        except Exception:  # noqa: BLE001 - already failing; recovery at start retries
            pass

    @staticmethod
    def _remove(ioctx, name: str) -> None:
        import rbd
        with rbd.Image(ioctx, name) as image:
            for snap in list(image.list_snaps()):
                if image.is_protected_snap(snap["name"]):
                    image.unprotect_snap(snap["name"])  # ImageBusy while clones exist
                image.remove_snap(snap["name"])
        rbd.RBD().remove(ioctx, name)

    # -- reading and deleting ----------------------------------------------------------------
    def open(self, url: str, offset: int = 0, length: int | None = None) -> ReadHandle:
        import rbd
        location = self._locate(url)
        try:
            ioctx = self._ioctx(location.pool)
        except Exception as exc:
            raise self._error(exc, f"opening {url}") from exc
        try:
            image = rbd.Image(ioctx, location.image, snapshot=location.snapshot, read_only=True)
        except Exception as exc:
            ioctx.close()
            raise self._error(exc, f"opening {url}") from exc
        closed = []

        def close() -> None:
            if not closed:  # the stream's end and ReadHandle.close may both call it
                closed.append(True)
                image.close()
                ioctx.close()

        try:
            size = image.size()
        except Exception as exc:
            close()
            raise self._error(exc, f"opening {url}") from exc
        if length is None:
            length = max(size - offset, 0)
        length = max(min(length, size - offset), 0)

        return ReadHandle(length=length, chunks=self._read(image, offset, length, url, close),
                          closer=close)

    def _read(self, image, offset: int, length: int, url: str, close) -> Iterator[bytes]:
        """Object-aligned reads, IN_FLIGHT of them ahead of the one being sent."""
        end, ahead = offset + length, offset
        pending: collections.deque = collections.deque()
        try:
            while pending or ahead < end:
                while len(pending) < IN_FLIGHT and ahead < end:
                    want = min(self.chunk_size - ahead % self.chunk_size, end - ahead)
                    box: dict = {}
                    completion = image.aio_read(ahead, want,
                                                lambda _, data, box=box: box.update(data=data))
                    pending.append((completion, box, want))
                    ahead += want
                completion, box, want = pending.popleft()
                try:
                    _completed(completion)
                except AioError as exc:
                    raise self._error(exc, f"reading {url}") from exc
                data = box.get("data") or b""
                if len(data) != want:
                    raise StoreError(f"{self._where()}: {url} ended early")
                yield data
        finally:
            _wait_all(pending)
            close()

    def size_of(self, url: str) -> int:
        handle = self.open(url)
        handle.close()
        return handle.length

    def in_use(self, url: str) -> str | None:
        import rbd
        if not self.owns(url):
            return None
        location = self._locate(url)
        try:
            with self._ioctx(location.pool) as ioctx, \
                    rbd.Image(ioctx, location.image, snapshot=location.snapshot,
                              read_only=True) as image:
                children = list(image.list_children())
        except rbd.ImageNotFound:
            return None
        except Exception as exc:
            raise self._error(exc, f"looking for clones of {url}") from exc
        if not children:
            return None
        names = ", ".join(f"{pool}/{name}" for pool, name in children[:5])
        return (f"its rbd snapshot {location.pool}/{location.image}@{location.snapshot} has "
                f"{len(children)} clone(s) ({names}); flatten or delete them first")

    def delete(self, url: str) -> None:
        import rbd
        location = self._locate(url)
        try:
            with self._ioctx(location.pool) as ioctx:
                self._remove(ioctx, location.image)
        except rbd.ImageNotFound:
            return
        except Exception as exc:
            raise self._error(exc, f"deleting {url}") from exc

    # -- housekeeping ------------------------------------------------------------------------
    def recover(self, holder_prefix: str) -> list[str]:
        import rbd
        prefix = temp_prefix(holder_prefix)
        removed = []
        try:
            with self._ioctx() as ioctx:
                for name in rbd.RBD().list(ioctx):
                    if name.startswith(prefix):
                        self._remove_quietly(ioctx, name)
                        removed.append(f"{self.pool}/{name}")
        except Exception:  # noqa: BLE001 - Ceph down at start: the next start retries
            LOG.warning("could not look for partial uploads in %s; they stay until the next "
                        "start", self._where())
        return removed

    def find_orphans(self, known_urls: set[str], min_age_seconds: float) -> list[str]:
        import rbd
        known = set()
        for url in known_urls:
            if url.startswith("rbd://"):
                try:
                    location = RbdLocation(url)
                except StoreError:
                    continue
                if location.pool in (None, self.pool):
                    known.add(location.image)
        found = []
        try:
            with self._ioctx() as ioctx:
                for name in rbd.RBD().list(ioctx):
                    if not is_image_id(name) or name in known:
                        continue
                    with rbd.Image(ioctx, name, read_only=True) as image:
                        age = time.time() - image.create_timestamp().timestamp()
                    if age >= min_age_seconds:
                        found.append(self._url(name))
        except Exception as exc:
            raise self._error(exc, "listing the pool") from exc
        return found

    def delete_orphan(self, path: str) -> None:
        if not self.owns(path):
            raise StoreError(f"{path} is not an image of store {self.id!r}")
        self.delete(path)

    def check(self) -> None:
        try:
            with self._ioctx():
                pass
        except Exception as exc:
            raise self._error(exc, "checking the pool") from exc

    def properties(self) -> dict:
        return {"pool": self.pool, "chunk_size": self.chunk_size,
                "thin_provisioning": self.thin_provisioning}

    def owns(self, url: str) -> bool:
        """Images glancelab writes: named by an image id, in this pool of this cluster.
        Anything else there (a disk an admin registered) is only read."""
        try:
            location = RbdLocation(url)
        except StoreError:
            return False
        if location.fsid is None or location.pool != self.pool or \
                location.snapshot != SNAPSHOT or not is_image_id(location.image):
            return False
        try:
            return location.fsid == self.fsid
        except StoreError:
            return False


class AioError(OSError):
    """A librbd asynchronous read or write that failed (errno as librbd gave it)."""


def _ignore(*_) -> None:
    """A completion callback: the caller waits on the completion itself."""


def _completed(completion) -> None:
    """Wait for one aio read or write; AioError when librbd failed it."""
    completion.wait_for_complete_and_cb()
    status = completion.get_return_value()
    if status < 0:
        raise AioError(-status, os.strerror(-status))


def _settle(pending: collections.deque, keep: int) -> None:
    """Wait for the oldest writes until at most `keep` are in flight; raise on a failed one."""
    while len(pending) > keep:
        _completed(pending.popleft()[0])


def _wait_all(pending: collections.deque) -> None:
    while pending:
        pending.popleft()[0].wait_for_complete_and_cb()


def _is_ceph(exc: BaseException) -> bool:
    return type(exc).__module__ in ("rados", "rbd") or isinstance(exc, AioError)
