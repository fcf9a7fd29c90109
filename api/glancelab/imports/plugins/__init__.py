"""Glance's import plugins: what an import does to staged data before it reaches the stores.

[image_import_opts] image_import_plugins names them, run in that order, for glance-direct
and web-download (never copy-image), as Glance's import flow runs them. A plugin works on
the staged file and says what the image's record must become (StagedImage.changes and
.properties); the runner writes that, so a failed plugin changes no record.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from glancelab.conf import Config
from glancelab.formats import FormatPolicy


class PluginFailed(Exception):
    """A plugin cannot process the data; the message says why and what to do."""


@dataclasses.dataclass(frozen=True)
class Plugins:
    names: tuple[str, ...]
    output_format: str  # [image_conversion]
    inject: tuple[tuple[str, str], ...]  # [inject_metadata_properties]
    ignore_user_roles: frozenset[str]

    @classmethod
    def from_config(cls, config: Config) -> "Plugins":
        injected = config.inject_metadata_properties
        return cls(names=tuple(config.image_import_opts.image_import_plugins),
                   output_format=config.image_conversion.output_format,
                   inject=tuple(sorted((injected.inject or {}).items())),
                   ignore_user_roles=frozenset(r.lower() for r in injected.ignore_user_roles))

    @property
    def decompresses(self) -> bool:
        """Staged data may be an archive: its format is judged once it is unpacked."""
        return "image_decompression" in self.names


@dataclasses.dataclass
class StagedImage:
    """One import's staged data, and what the plugins found the image must become."""
    path: str
    disk_format: str | None
    container_format: str | None
    importer_roles: frozenset[str]
    size_cap: int
    formats: FormatPolicy
    changes: dict = dataclasses.field(default_factory=dict)  # image columns
    properties: dict = dataclasses.field(default_factory=dict)


def _registry() -> dict[str, Callable[[Plugins, StagedImage], str | None]]:
    from glancelab.imports.plugins import conversion, decompression, injection
    return {"no_op": lambda plugins, staged: None,
            "inject_image_metadata": injection.inject,
            "image_conversion": conversion.convert,
            "image_decompression": decompression.decompress}


def run(plugins: Plugins, staged: StagedImage, report: Callable[[str], None]) -> list[str]:
    """Run each configured plugin in order; the steps done, as the task shows them."""
    steps: list[str] = []
    registry = _registry()
    for name in plugins.names:
        report(f"Running {name}")
        done = registry[name](plugins, staged)
        if done:
            steps.append(f"{name}: {done}")
    return steps
