"""What a request needs besides its own input: typed settings and the stores."""

from __future__ import annotations

import dataclasses
import os
import socket

from glancelab.images import schemas
from glancelab.cache import ImageCache
from glancelab.conf import Config
from glancelab.formats import FormatPolicy
from glancelab.quotas.service import QuotaSettings
from glancelab.imports.webdownload import UriFilter
from glancelab.stores import StoreRegistry
from glancelab.stores.staging import StagingStore


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


@dataclasses.dataclass
class Runtime:
    settings: Settings
    stores: StoreRegistry
    quotas: QuotaSettings = QuotaSettings()
    cache: "ImageCache | None" = None
    staging: StagingStore | None = None
    imports: ImportSettings = ImportSettings()
    # Runs imports in the background; made on first use, so each worker has its own.
    importer: object | None = None


def upload_holder() -> str:
    """Names the process writing an upload; read after fork, so each worker has its own."""
    return f"{socket.gethostname()}:{os.getpid()}"
