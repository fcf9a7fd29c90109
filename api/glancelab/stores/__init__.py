"""Store registry: the backends named in glance-api.conf, single-store or multi-store."""

from __future__ import annotations

import logging

from glancelab.conf import Config, ConfigError
from glancelab.stores.base import (ReadHandle, Store, Stored, StoreError, StoreFull,
                                   StoreInUse, StoreUnavailable, file_chunks)
from glancelab.stores.filesystem import FilesystemStore
from glancelab.stores.undo import UndoLog

LOG = logging.getLogger(__name__)
MiB = 1024 * 1024

__all__ = ["StoreRegistry", "build_registry", "Store", "Stored", "ReadHandle", "StoreError",
           "StoreFull", "StoreInUse", "StoreUnavailable", "file_chunks"]


def _parse_datadirs(values: list[str]) -> list[tuple[str, int]]:
    """PATH:PRIORITY entries, from repeated lines (glance_store's MultiStrOpt) or commas."""
    dirs = []
    for item in (part.strip() for value in values for part in value.split(",")):
        if not item:
            continue
        path, _, prio = item.rpartition(":") if ":" in item else (item, "", "0")
        try:
            dirs.append((path, int(prio or 0)))
        except ValueError:
            raise ConfigError(f"filesystem_store_datadirs entry {item!r}: use PATH:PRIORITY") from None
    return dirs


def _file_store(store_id: str, group, description: str) -> FilesystemStore:
    if group.filesystem_store_datadirs:
        dirs = _parse_datadirs(group.filesystem_store_datadirs)
    elif group.filesystem_store_datadir:
        dirs = [(group.filesystem_store_datadir, 0)]
    else:
        raise ConfigError(f"store {store_id!r}: set filesystem_store_datadir")
    try:
        # glance_store reads the mode's digits as octal: 640 and 0640 are both rw-r-----
        file_perm = int(str(group.filesystem_store_file_perm), 8)
    except ValueError:
        raise ConfigError(f"store {store_id!r}: filesystem_store_file_perm = "
                          f"{group.filesystem_store_file_perm} is not an octal mode") from None
    return FilesystemStore(store_id, dirs, file_perm, group.filesystem_store_chunk_size,
                           description)


def _required(store_id: str, group, *keys: str) -> list[str]:
    missing = [key for key in keys if not group[key]]
    if missing:
        raise ConfigError(f"store {store_id!r}: set {', '.join(missing)}")
    return [group[key] for key in keys]


def _swift_store(store_id: str, group, description: str):
    from glancelab.stores.swift import SwiftStore
    auth, user, key = _required(store_id, group, "swift_store_auth_address",
                                "swift_store_user", "swift_store_key")
    return SwiftStore(
        store_id, auth, user, key,
        auth_version=group.swift_store_auth_version,
        container=group.swift_store_container,
        create_container_on_put=group.swift_store_create_container_on_put,
        large_object_size=group.swift_store_large_object_size * MiB,
        chunk_size=group.swift_store_large_object_chunk_size * MiB,
        project_domain=group.swift_store_project_domain,
        user_domain=group.swift_store_user_domain,
        description=description)


def _s3_store(store_id: str, group, description: str):
    from glancelab.stores.s3 import S3Store
    host, access, secret, bucket = _required(store_id, group, "s3_store_host",
                                             "s3_store_access_key", "s3_store_secret_key",
                                             "s3_store_bucket")
    return S3Store(
        store_id, host, access, secret, bucket,
        create_bucket_on_put=group.s3_store_create_bucket_on_put,
        large_object_size=group.s3_store_large_object_size * MiB,
        chunk_size=group.s3_store_large_object_chunk_size * MiB,
        region=group.s3_store_region_name or "us-east-1",
        addressing_style=group.s3_store_bucket_url_format,
        parts_in_flight=group.s3_store_thread_pools,
        description=description)


def _rbd_store(store_id: str, group, description: str):
    from glancelab.stores.rbd import RbdStore
    try:
        return RbdStore(store_id, group.rbd_store_pool, group.rbd_store_user,
                        group.rbd_store_ceph_conf, group.rbd_store_chunk_size * MiB,
                        connect_timeout=group.rados_connect_timeout,
                        thin_provisioning=group.rbd_thin_provisioning, description=description)
    except StoreError as exc:
        raise ConfigError(str(exc)) from None


def _http_store(store_id: str, group, description: str):
    from glancelab.stores.http import HttpStore
    return HttpStore(store_id, description)


FACTORIES = {"file": _file_store, "swift": _swift_store, "s3": _s3_store, "rbd": _rbd_store,
             "http": _http_store}


class StoreRegistry:
    def __init__(self, stores: dict[str, Store], default_id: str, multistore: bool,
                 weights: dict[str, int] | None = None):
        self.stores = stores
        self.default_id = default_id
        self.multistore = multistore
        self.weights = weights or {}
        undo_log = UndoLog()  # one a process: it paces the retries of each store
        for store in stores.values():
            store.undo_log = undo_log

    @property
    def default(self) -> Store:
        return self.stores[self.default_id]

    def get(self, store_id: str) -> Store | None:
        return self.stores.get(store_id)

    def for_location(self, url: str, metadata: dict) -> Store:
        """The store that can read a location: the one it names, else by URL."""
        named = self.stores.get(metadata.get("store", ""))
        if named is not None:
            return named
        for store in self.stores.values():
            if store.owns(url):
                return store
        for store in self.stores.values():
            if url.split("://", 1)[0] in store.url_schemes:
                return store
        raise StoreError(f"no configured store can read {url.split('://', 1)[0]}:// locations")

    def location_metadata(self, store: Store) -> dict:
        return {"store": store.id} if self.multistore else {}

    def prepare(self) -> None:
        for store in self.stores.values():
            store.prepare()

    def check(self) -> dict[str, Exception | None]:
        """Each store's problem (None when it works)."""
        results: dict[str, Exception | None] = {}
        for store in self.stores.values():
            try:
                store.check()
                results[store.id] = None
            except StoreError as exc:
                results[store.id] = exc
        return results


def build_registry(config: Config) -> StoreRegistry:
    """The stores config names; builds objects only (no directory made, no server asked)."""
    if config.multistore:
        return _multistore(config)
    return _single_store(config)


def _multistore(config: Config) -> StoreRegistry:
    stores: dict[str, Store] = {}
    weights: dict[str, int] = {}
    for store_id, store_type in config.backends.items():
        group = config.group(store_id)
        stores[store_id] = FACTORIES[store_type](store_id, group, group.store_description)
        weights[store_id] = group.weight
    default_id = config.glance_store.default_backend or ""
    if default_id not in stores:
        raise ConfigError(f"[glance_store] default_backend = {default_id!r} must name one of "
                          f"enabled_backends: {', '.join(stores)}")
    return StoreRegistry(stores, default_id, multistore=True, weights=weights)


def _single_store(config: Config) -> StoreRegistry:
    group = config.glance_store
    stores = {store_type: FACTORIES[store_type](store_type, group, "")
              for store_type in config.backends}
    default_type = group.default_store
    if default_type not in stores:
        raise ConfigError(f"[glance_store] default_store = {default_type!r} is not in "
                          f"stores = {', '.join(stores)}")
    return StoreRegistry(stores, default_type, multistore=False)
