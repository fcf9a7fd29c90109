"""`glancelab db load-metadefs`: load namespace JSON files (the shipped ones by default)."""

from __future__ import annotations

import glob
import json
import os

from glancelab import errors
from glancelab.identity.context import RequestContext
from glancelab.db import database
from glancelab.db.models import MetadefNamespace
from glancelab.metadefs import service as metadefs

SHIPPED = os.path.join(os.path.dirname(os.path.dirname(__file__)), "etc", "metadefs")
LOADER = RequestContext(request_id="load-metadefs", project_id="admin", user_id=None,
                        roles=frozenset({"admin"}))


def load(path: str = SHIPPED, overwrite: bool = False) -> list[tuple[str, str]]:
    """(namespace, what happened) for every *.json under path, in name order."""
    files = sorted(glob.glob(os.path.join(path, "*.json")))
    if not files:
        raise FileNotFoundError(f"no *.json namespace files in {path}")
    results = []
    for file in files:
        with open(file, encoding="utf-8") as handle:
            try:
                document = json.load(handle)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{file}: not JSON ({exc})") from None
        name = document.get("namespace", "?") if isinstance(document, dict) else "?"
        with database.atomic():
            existing = MetadefNamespace.get_or_none(MetadefNamespace.namespace == name)
            if existing is not None and not overwrite:
                results.append((name, "kept (exists; --overwrite replaces it)"))
                continue
            if existing is not None:
                existing.delete_instance(recursive=True)
            try:
                metadefs.create_namespace(LOADER, document)
            except errors.GlanceError as exc:
                raise ValueError(f"{file}: {exc.description}") from None
            results.append((name, "replaced" if existing is not None else "loaded"))
    return results
