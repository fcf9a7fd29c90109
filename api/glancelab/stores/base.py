"""The one interface every backend implements; the API never knows which one it talks to."""

from __future__ import annotations

import abc
import dataclasses
import uuid
from typing import BinaryIO, Callable, Iterable, Iterator

from glancelab.conf import ConfigError
from glancelab.stores.errors import StoreError
from glancelab.stores.undo import NoUndoLog


def required_options(store_id: str, group, *keys: str) -> list:
    """The values of keys a driver cannot do without; ConfigError naming the missing ones."""
    missing = [key for key in keys if not group[key]]
    if missing:
        raise ConfigError(f"store {store_id!r}: set {', '.join(missing)}")
    return [group[key] for key in keys]


def is_image_id(name: str) -> bool:
    """Stores name what they write by image id; any other name was put there by someone else."""
    try:
        return str(uuid.UUID(name)) == name
    except ValueError:
        return False


# A write in progress lives under a temporary name that says which process writes it, so
# recovery removes exactly the writes of processes that died (filesystem files, rbd images).
TEMP_PREFIX = ".tmp-"


def temp_name(holder: str, image_id: str) -> str:
    return f"{TEMP_PREFIX}{holder.replace(':', '-')}-{image_id}"


def temp_prefix(holder_prefix: str) -> str:
    """Names of the writes held by holder_prefix ('host:' every process, 'host:pid' one)."""
    prefix = TEMP_PREFIX + holder_prefix.replace(":", "-")
    # exactly this process: pid 12 must not match pid 123
    return prefix if holder_prefix.endswith(":") else prefix + "-"


@dataclasses.dataclass
class Stored:
    url: str
    size: int


@dataclasses.dataclass
class ReadHandle:
    """Data to send: a real file (sent with sendfile) or an iterator of chunks."""
    length: int
    file: BinaryIO | None = None
    chunks: Iterator[bytes] | None = None
    closer: Callable[[], None] | None = None  # releases what chunks would (a connection)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
        if self.closer is not None:
            self.closer()

    def iter_chunks(self, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        """The data as chunks, whether it is a file or already chunks."""
        if self.file is None:
            yield from self.chunks
            return
        try:
            yield from file_chunks(self.file, self.length, chunk_size)
        finally:
            self.close()


def file_chunks(file: BinaryIO, length: int, chunk_size: int) -> Iterator[bytes]:
    """length bytes of an open file, from where it stands, chunk by chunk; closes it after."""
    try:
        while length > 0 and (chunk := file.read(min(chunk_size, length))):
            length -= len(chunk)
            yield chunk
    finally:
        file.close()


class Store(abc.ABC):
    type: str = ""
    writable: bool = True
    url_schemes: tuple[str, ...] = ()
    # Where a driver records backend work a failed write would still owe (S3 parts, Swift
    # segments); the registry gives every store the service's database-backed log.
    undo_log: NoUndoLog = NoUndoLog()

    def __init__(self, store_id: str, description: str = ""):
        self.id = store_id
        self.description = description

    @classmethod
    @abc.abstractmethod
    def from_options(cls, store_id: str, group, description: str) -> "Store":
        """The store a backend section (or [glance_store]) configures: each driver reads
        its own keys; ConfigError names what is missing or wrong."""

    @abc.abstractmethod
    def write(self, image_id: str, chunks: Iterable[bytes], size_hint: int | None,
              holder: str) -> Stored:
        """Store the chunks atomically: all of them under the returned URL, or nothing."""

    @abc.abstractmethod
    def open(self, url: str, offset: int = 0, length: int | None = None) -> ReadHandle:
        """Read the data at url from offset (length bytes, or to the end)."""

    @abc.abstractmethod
    def delete(self, url: str) -> None:
        """Remove the data at url; a missing object is not an error."""

    def undo(self, key: str, ref: str) -> None:
        """Undo what a write recorded in undo_log left in the backend; a thing already
        gone is not an error. Raises StoreError when the backend cannot do it now."""
        raise StoreError(f"store {self.id!r} records nothing to undo")

    def size_of(self, url: str) -> int:
        """Size of the data at url; raises StoreError when it is not there."""
        return self.open(url).length

    def recover(self, holder_prefix: str) -> list[str]:
        """Remove partial writes left by holders starting with holder_prefix; returns what went."""
        return []

    def find_orphans(self, known_urls: set[str], min_age_seconds: float) -> list[str]:
        """Finished data no image points to. Only listed: a mistyped database must never
        make the service delete a store (`glancelab stores orphans --delete` does, asked)."""
        return []

    def delete_orphan(self, path: str) -> None:
        raise StoreError(f"store {self.id!r} cannot delete orphans")

    def in_use(self, url: str) -> str | None:
        """Why the data at url cannot be deleted now (e.g. clones of its rbd snapshot), or
        None. Asked before an image's metadata goes, so a refused delete keeps both."""
        return None

    def prepare(self) -> None:
        """Make what the store needs locally (its directories); run once at start."""

    def check(self) -> None:
        """Raise StoreError when the backend is unusable with this configuration."""

    def properties(self) -> dict:
        """What /v2/info/stores/detail shows about this store."""
        return {}

    def local_directory(self) -> str | None:
        """The local directory its data lives in, for a store that has one (where the
        staging area goes by default); None for a remote backend."""
        return None

    def owns(self, url: str) -> bool:
        """Whether this store wrote the data at url (and so may delete it). A store that
        only reads (HTTP) owns nothing; drivers that write say what is theirs."""
        return False
