"""Glance's reserved staging store: where imported data waits for its target stores.

One owner for the staging layout: where it lives and the URL of an image's staged data.
"""

from __future__ import annotations

import os

from glancelab.conf import Config
from glancelab.stores.filesystem import FilesystemStore


class StagingStore(FilesystemStore):
    """A filesystem store of one directory, created on its first write (a CLI run as root
    must not create it with an owner the service cannot write as)."""

    def __init__(self, path: str):
        super().__init__("os_glance_staging_store", [(path, 0)], create_on_write=True)

    @property
    def path(self) -> str:
        return self.local_directory()

    def path_for(self, image_id: str) -> str:
        """The file an image's staged data is (or will be) in."""
        return os.path.join(self.path, image_id)

    def url_for(self, image_id: str) -> str:
        """Where an image's staged data is (or will be)."""
        return f"file://{self.path_for(image_id)}"

    def discard(self, image_id: str) -> None:
        self.delete(self.url_for(image_id))


def staging_store(config: Config, default_datadir: str | None) -> StagingStore:
    """[os_glance_staging_store] (multi-store) or node_staging_uri (single store) when set;
    otherwise .staging inside the default filesystem store, so two services on one host
    never share (and never clean up) each other's staged data."""
    path = config.group("os_glance_staging_store").filesystem_store_datadir
    if not path:
        uri = config.node_staging_uri or ""
        path = uri[len("file://"):] if uri.startswith("file://") else uri
    if not path and default_datadir:
        path = os.path.join(default_datadir, ".staging")
    return StagingStore(path or "var/staging")
