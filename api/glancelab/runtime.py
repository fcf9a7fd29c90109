"""What a request needs besides its own input: typed settings and the stores."""

from __future__ import annotations

import dataclasses
import os

from typing import TYPE_CHECKING

from glancelab.conf import Config
from glancelab.formats import FormatPolicy

if TYPE_CHECKING:  # the domains build these; the runtime only carries them
    from glancelab.cache import ImageCache
    from glancelab.identity.protections import PropertyProtections
    from glancelab.imports.settings import ImportSettings
    from glancelab.quotas.service import QuotaSettings
    from glancelab.stores import StoreRegistry
    from glancelab.stores.staging import StagingStore


@dataclasses.dataclass(frozen=True)
class Settings:
    """Typed values of the options a request reads; defaults live in conf.options only."""
    limit_param_default: int
    api_limit_max: int
    image_size_cap: int
    show_image_direct_url: bool
    show_multiple_locations: bool
    public_endpoint: str
    max_request_body_size: int
    disk_formats: tuple[str, ...]
    container_formats: tuple[str, ...]
    formats: FormatPolicy
    file_location_dirs: tuple[str, ...]
    list_query_timeout: float
    # This node's URL on the images it stages (glance-direct across nodes), or None
    stage_host: str | None

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
            file_location_dirs=tuple(os.path.realpath(path)
                                     for path in config.glancelab.file_location_dirs),
            list_query_timeout=config.glancelab.list_query_timeout,
            # as Glance: worker_self_reference_url, else public_endpoint, else nothing
            stage_host=(config.worker_self_reference_url or config.public_endpoint
                        or "").rstrip("/") or None,
        )


@dataclasses.dataclass
class Runtime:
    settings: Settings
    stores: StoreRegistry
    quotas: QuotaSettings
    imports: ImportSettings
    cache: ImageCache | None = None
    staging: StagingStore | None = None
    # property_protection_file's rules, when one is set
    protections: PropertyProtections | None = None
    # Runs imports in the background; made on first use, so each worker has its own.
    importer: object | None = None
    # This worker's cache prefetcher (cache/prefetcher.py), when the server runs one.
    prefetcher: object | None = None

