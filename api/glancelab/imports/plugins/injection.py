"""inject_image_metadata: properties an operator puts on every imported image."""

from __future__ import annotations

import logging

from glancelab.imports.plugins import Plugins, StagedImage

LOG = logging.getLogger(__name__)


def inject(plugins: Plugins, staged: StagedImage) -> str | None:
    ignored = sorted(staged.importer_roles & plugins.ignore_user_roles)
    if ignored:
        return f"nothing injected: the importing user has role {ignored[0]}"
    chosen = {}
    for key, value in plugins.inject:
        if key.startswith("os_glance"):  # Glance's own namespace: never from a config file
            LOG.warning("inject_image_metadata skips reserved property", extra={"key": key})
            continue
        chosen[key] = value
    staged.properties.update(chosen)
    return f"set {', '.join(sorted(chosen))}" if chosen else None
