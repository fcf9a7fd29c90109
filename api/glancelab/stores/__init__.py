"""Store registry: the backends named in glance-api.conf, single-store or multi-store."""

from __future__ import annotations

import logging

from glancelab.config import Config, ConfigError
from glancelab.stores.base import (ReadHandle, Store, Stored, StoreError, StoreFull,
                                   StoreUnavailable, file_chunks)
from glancelab.stores.filesystem import FilesystemStore

LOG = logging.getLogger(__name__)

__all__ = ["StoreRegistry", "build_registry", "Store", "Stored", "ReadHandle", "StoreError",
           "StoreFull", "StoreUnavailable", "file_chunks"]


def _parse_datadirs(value: str) -> list[tuple[str, int]]:
    dirs = []
    for item in value.replace("\n", ",").split(","):
        item = item.strip()
        if not item:
            continue
        path, _, prio = item.rpartition(":") if ":" in item else (item, "", "0")
        try:
            dirs.append((path, int(prio or 0)))
        except ValueError:
            raise ConfigError(f"filesystem_store_datadirs entry {item!r}: use PATH:PRIORITY") from None
    return dirs


def _file_store(store_id: str, options: dict[str, str], description: str) -> FilesystemStore:
    if options.get("filesystem_store_datadirs"):
        dirs = _parse_datadirs(options["filesystem_store_datadirs"])
    elif options.get("filesystem_store_datadir"):
        dirs = [(options["filesystem_store_datadir"], 0)]
    else:
        raise ConfigError(f"store {store_id!r}: set filesystem_store_datadir")
    perm = options.get("filesystem_store_file_perm", "0").strip() or "0"
    try:
        file_perm = int(perm, 8)
        chunk_size = int(options.get("filesystem_store_chunk_size", "65536"))
    except ValueError as exc:
        raise ConfigError(f"store {store_id!r}: {exc}") from None
    return FilesystemStore(store_id, dirs, file_perm, chunk_size, description)


def _flag(options: dict[str, str], key: str, default: bool = False) -> bool:
    value = options.get(key, "").strip().lower()
    if not value:
        return default
    if value not in ("true", "false", "1", "0", "yes", "no"):
        raise ConfigError(f"{key} = {value!r} is not a boolean (true/false)")
    return value in ("true", "1", "yes")


def _mib(options: dict[str, str], key: str, default_mib: int) -> int:
    value = options.get(key, "").strip() or str(default_mib)
    try:
        return int(value) * 1024 * 1024
    except ValueError:
        raise ConfigError(f"{key} = {value!r} must be a whole number of MB") from None


def _required(store_id: str, options: dict[str, str], *keys: str) -> list[str]:
    missing = [key for key in keys if not options.get(key)]
    if missing:
        raise ConfigError(f"store {store_id!r}: set {', '.join(missing)}")
    return [options[key] for key in keys]


def _swift_store(store_id: str, options: dict[str, str], description: str):
    from glancelab.stores.swift import SwiftStore
    auth, user, key = _required(store_id, options, "swift_store_auth_address",
                                "swift_store_user", "swift_store_key")
    return SwiftStore(
        store_id, auth, user, key,
        auth_version=options.get("swift_store_auth_version", "1"),
        container=options.get("swift_store_container", "glance"),
        create_container_on_put=_flag(options, "swift_store_create_container_on_put"),
        large_object_size=_mib(options, "swift_store_large_object_size", 5120),
        chunk_size=_mib(options, "swift_store_large_object_chunk_size", 200),
        description=description)


def _s3_store(store_id: str, options: dict[str, str], description: str):
    from glancelab.stores.s3 import S3Store
    host, access, secret, bucket = _required(store_id, options, "s3_store_host",
                                             "s3_store_access_key", "s3_store_secret_key",
                                             "s3_store_bucket")
    return S3Store(
        store_id, host, access, secret, bucket,
        create_bucket_on_put=_flag(options, "s3_store_create_bucket_on_put"),
        large_object_size=_mib(options, "s3_store_large_object_size", 100),
        chunk_size=_mib(options, "s3_store_large_object_chunk_size", 10),
        region=options.get("s3_store_region_name", "") or "us-east-1",
        addressing_style=options.get("s3_store_bucket_url_format", "auto"),
        description=description)


def _http_store(store_id: str, options: dict[str, str], description: str):
    from glancelab.stores.http import HttpStore
    return HttpStore(store_id, description)


FACTORIES = {"file": _file_store, "swift": _swift_store, "s3": _s3_store, "http": _http_store}


class StoreRegistry:
    def __init__(self, stores: dict[str, Store], default_id: str, multistore: bool,
                 weights: dict[str, int] | None = None):
        self.stores = stores
        self.default_id = default_id
        self.multistore = multistore
        self.weights = weights or {}

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
    enabled = config.get_list("DEFAULT", "enabled_backends")
    if enabled:
        return _multistore(config, enabled)
    return _single_store(config)


def _multistore(config: Config, enabled: list[str]) -> StoreRegistry:
    stores: dict[str, Store] = {}
    weights: dict[str, int] = {}
    for entry in enabled:
        store_id, sep, store_type = entry.partition(":")
        store_id, store_type = store_id.strip(), store_type.strip()
        if not sep or store_type not in FACTORIES:
            raise ConfigError(f"enabled_backends entry {entry!r}: use NAME:TYPE with TYPE one of "
                              f"{', '.join(sorted(FACTORIES))}")
        if store_id.startswith("os_glance_"):
            raise ConfigError(f"store name {store_id!r}: os_glance_ names are reserved")
        options = config.section(store_id)
        stores[store_id] = FACTORIES[store_type](store_id, options,
                                                 options.get("store_description", ""))
        try:
            weights[store_id] = int(options.get("weight", "0") or 0)
        except ValueError:
            raise ConfigError(f"[{store_id}] weight must be an integer") from None
    default_id = config.get("glance_store", "default_backend") or ""
    if default_id not in stores:
        raise ConfigError(f"[glance_store] default_backend = {default_id!r} must name one of "
                          f"enabled_backends: {', '.join(stores)}")
    return StoreRegistry(stores, default_id, multistore=True, weights=weights)


def _single_store(config: Config) -> StoreRegistry:
    types = config.get_list("glance_store", "stores") or ["file"]
    default_type = config.get("glance_store", "default_store") or types[0]
    options = config.section("glance_store")
    options.setdefault("filesystem_store_datadir",
                       config.get("glance_store", "filesystem_store_datadir") or "")
    stores: dict[str, Store] = {}
    for store_type in types:
        if store_type not in FACTORIES:
            raise ConfigError(f"[glance_store] stores: {store_type!r} is not a store type glancelab "
                              f"has; use {', '.join(sorted(FACTORIES))}")
        stores[store_type] = FACTORIES[store_type](store_type, options, "")
    if default_type not in stores:
        raise ConfigError(f"[glance_store] default_store = {default_type!r} is not in "
                          f"stores = {', '.join(types)}")
    return StoreRegistry(stores, default_type, multistore=False)
