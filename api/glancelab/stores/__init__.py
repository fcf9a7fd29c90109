"""Store registry: the backends named in glance-api.conf, single-store or multi-store."""

from __future__ import annotations

import importlib
import logging

from glancelab.conf import Config, ConfigError
from glancelab.stores.base import ReadHandle, Store, Stored, file_chunks
from glancelab.stores.errors import StoreError, StoreFull, StoreInUse, StoreUnavailable
from glancelab.stores.undo import UndoLog

LOG = logging.getLogger(__name__)

__all__ = ["StoreRegistry", "build_registry", "Store", "Stored", "ReadHandle", "StoreError",
           "StoreFull", "StoreInUse", "StoreUnavailable", "file_chunks"]


# Each driver builds itself from its own option group (Store.from_options); the registry
# only knows which class serves which type. Imported when used: the rbd, Swift and S3
# libraries load only where such a store is configured.
DRIVERS = {"file": ("glancelab.stores.filesystem", "FilesystemStore"),
           "swift": ("glancelab.stores.swift", "SwiftStore"),
           "s3": ("glancelab.stores.s3", "S3Store"),
           "rbd": ("glancelab.stores.rbd", "RbdStore"),
           "http": ("glancelab.stores.http", "HttpStore")}


def driver(store_type: str) -> type[Store]:
    module, name = DRIVERS[store_type]
    return getattr(importlib.import_module(module), name)


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
        stores[store_id] = driver(store_type).from_options(store_id, group,
                                                           group.store_description)
        weights[store_id] = group.weight
    default_id = config.glance_store.default_backend or ""
    if default_id not in stores:
        raise ConfigError(f"[glance_store] default_backend = {default_id!r} must name one of "
                          f"enabled_backends: {', '.join(stores)}")
    return StoreRegistry(stores, default_id, multistore=True, weights=weights)


def _single_store(config: Config) -> StoreRegistry:
    group = config.glance_store
    stores = {store_type: driver(store_type).from_options(store_type, group, "")
              for store_type in config.backends}
    default_type = group.default_store
    if default_type not in stores:
        raise ConfigError(f"[glance_store] default_store = {default_type!r} is not in "
                          f"stores = {', '.join(stores)}")
    return StoreRegistry(stores, default_type, multistore=False)


def describe(config: Config) -> list[str]:
    """A line for each store: its type, whether it is the default, what it will use
    (for `glancelab config check`)."""
    registry = build_registry(config)
    lines = []
    for store in registry.stores.values():
        default = " (default)" if store.id == registry.default_id else ""
        props = ", ".join(f"{k}={v}" for k, v in store.properties().items())
        lines.append(f"store {store.id}{default} [{store.type}]" + (f": {props}" if props else ""))
    return lines
