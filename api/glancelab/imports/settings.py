"""The import options a request and the runner read, typed once from the option table."""

from __future__ import annotations

import dataclasses

from glancelab.conf import Config
from glancelab.imports.plugins import Plugins
from glancelab.imports.uri_filter import UriFilter
from glancelab.imports.webdownload import Pace


@dataclasses.dataclass(frozen=True)
class ImportSettings:
    methods: tuple[str, ...]
    uri_filter: UriFilter
    pace: Pace
    workers: int
    per_project: int  # import threads of a worker one project may hold
    plugins: Plugins

    @classmethod
    def from_config(cls, config: Config) -> "ImportSettings":
        workers = config.glancelab.import_workers
        return cls(methods=tuple(config.enabled_import_methods),
                   uri_filter=UriFilter.from_config(config),
                   pace=Pace.from_config(config),
                   workers=workers,
                   per_project=config.glancelab.imports_per_project or max(1, workers - 1),
                   plugins=Plugins.from_config(config))
