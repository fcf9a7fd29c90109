"""What a request needs besides its own input: typed settings and the stores."""

from __future__ import annotations

import dataclasses
import os
import socket

from glancelab import schemas
from glancelab.cache import ImageCache
from glancelab.config import Config
from glancelab.services.quotas import QuotaSettings
from glancelab.stores import StoreRegistry


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

    @classmethod
    def from_config(cls, config: Config) -> "Settings":
        return cls(
            limit_param_default=config.get_int("DEFAULT", "limit_param_default"),
            api_limit_max=config.get_int("DEFAULT", "api_limit_max"),
            image_size_cap=config.get_size("DEFAULT", "image_size_cap"),
            show_image_direct_url=config.get_bool("DEFAULT", "show_image_direct_url"),
            show_multiple_locations=config.get_bool("DEFAULT", "show_multiple_locations"),
            public_endpoint=(config.get("DEFAULT", "public_endpoint") or "").rstrip("/"),
            max_request_body_size=config.get_int("DEFAULT", "max_request_body_size"),
            disk_formats=tuple(config.get_list("image_format", "disk_formats")
                               or schemas.DISK_FORMATS),
            container_formats=tuple(config.get_list("image_format", "container_formats")
                                    or schemas.CONTAINER_FORMATS),
        )


@dataclasses.dataclass
class Runtime:
    settings: Settings
    stores: StoreRegistry
    quotas: QuotaSettings = QuotaSettings()
    cache: "ImageCache | None" = None


def upload_holder() -> str:
    """Names the process writing an upload; read after fork, so each worker has its own."""
    return f"{socket.gethostname()}:{os.getpid()}"
