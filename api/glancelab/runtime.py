"""What a request needs besides its own input: typed settings and the stores."""

from __future__ import annotations

import dataclasses
import os
import socket

from glancelab import schemas
from glancelab.cache import ImageCache
from glancelab.conf import Config
from glancelab.formats import FormatPolicy
from glancelab.services.quotas import QuotaSettings
from glancelab.services.webdownload import UriFilter
from glancelab.stores import StoreRegistry
from glancelab.stores.filesystem import FilesystemStore


@dataclasses.dataclass(frozen=True)
class Settings:
    limit_param_default: int = 25
    api_limit_max: int = 1000
    image_size_cap: int = 1 << 40
    show_image_direct_url: bool = False
    show_multiple_locations: bool = False
    public_endpoint: str = ""
    max_request_body_size: int = 65536
    disk_formats: tuple[str, ...] = tuple(schemas.DISK_FORMATS)
    container_formats: tuple[str, ...] = tuple(schemas.CONTAINER_FORMATS)
    formats: FormatPolicy = FormatPolicy()

    @classmethod
    def from_config(cls, config: Config) -> "Settings":
        formats = config.image_format
        return cls(
            limit_param_default=config.limit_param_default,
            api_limit_max=config.api_limit_max,
            image_size_cap=config.image_size_cap,
            show_image_direct_url=config.show_image_direct_url,
            show_multiple_locations=config.show_multiple_locations,
            public_endpoint=(config.public_endpoint or "").rstrip("/"),
            max_request_body_size=config.max_request_body_size,
            disk_formats=tuple(formats.disk_formats),
            container_formats=tuple(formats.container_formats),
            formats=FormatPolicy(require_image_format_match=formats.require_image_format_match,
                                 vmdk_allowed_types=tuple(formats.vmdk_allowed_types)),
        )


@dataclasses.dataclass(frozen=True)
class ImportSettings:
    methods: tuple[str, ...] = ("glance-direct", "web-download", "copy-image")
    uri_filter: UriFilter = UriFilter()
    workers: int = 2

    @classmethod
    def from_config(cls, config: Config) -> "ImportSettings":
        return cls(methods=tuple(config.enabled_import_methods),
                   uri_filter=UriFilter.from_config(config),
                   workers=config.glancelab.import_workers)


def staging_store(config: Config, stores: StoreRegistry) -> FilesystemStore:
    """Where imported data waits for its stores: Glance's reserved staging store.

    [os_glance_staging_store] (multi-store) or node_staging_uri (single store) when set;
    otherwise .staging inside the default filesystem store, so two services on one host
    never share (and never clean up) each other's staged data.
    """
    path = config.group("os_glance_staging_store").filesystem_store_datadir
    if not path:
        uri = config.node_staging_uri or ""
        path = uri[len("file://"):] if uri.startswith("file://") else uri
    if not path and isinstance(stores.default, FilesystemStore):
        path = os.path.join(stores.default.datadirs[0][0], ".staging")
    return FilesystemStore("os_glance_staging_store", [(path or "var/staging", 0)],
                           create_on_write=True)


@dataclasses.dataclass
class Runtime:
    settings: Settings
    stores: StoreRegistry
    quotas: QuotaSettings = QuotaSettings()
    cache: "ImageCache | None" = None
    staging: FilesystemStore | None = None
    imports: ImportSettings = ImportSettings()
    # Runs imports in the background; made on first use, so each worker has its own.
    importer: object | None = None


def upload_holder() -> str:
    """Names the process writing an upload; read after fork, so each worker has its own."""
    return f"{socket.gethostname()}:{os.getpid()}"
