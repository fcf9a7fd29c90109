"""The import options a request and the runner read, typed once from the option table."""

from __future__ import annotations

import dataclasses

from glancelab.conf import Config
from glancelab.imports.webdownload import UriFilter


@dataclasses.dataclass(frozen=True)
class ImportSettings:
    methods: tuple[str, ...]
    uri_filter: UriFilter
    workers: int

    @classmethod
    def from_config(cls, config: Config) -> "ImportSettings":
        return cls(methods=tuple(config.enabled_import_methods),
                   uri_filter=UriFilter.from_config(config),
                   workers=config.glancelab.import_workers)
