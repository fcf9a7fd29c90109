"""Keeping the cache within bounds and honest: prune (least recently used first, down to
image_cache_max_size) and clean (stalled partial copies, unrecorded files, records whose
file is gone or changed). Run from cron (`glancelab cache prune|clean`) or API 2.18's
POST /v2/cache/prune and /clean, one at a time (ImageCache.maintenance)."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from glancelab.cache.files import md5_of
from glancelab.cache.models import CachedImage

if TYPE_CHECKING:
    from glancelab.cache import ImageCache


def prune(cache: "ImageCache") -> list[str]:
    """Least recently used first, until the cache fits image_cache_max_size (partial
    copies count: they will be entries soon)."""
    entries = sorted(cache.cached(), key=lambda e: e.last_accessed)
    total = sum(e.size for e in entries) + cache.files.incomplete_size()
    removed = []
    for entry in entries:
        if total <= cache.max_size:
            break
        cache.delete(entry.image_id, "pruned")
        total -= entry.size
        removed.append(entry.image_id)
    return removed


def clean(cache: "ImageCache", verify: bool = False, now: float | None = None) -> list[str]:
    """Drop stalled partial files, files nobody recorded, and records whose file is gone
    or changed; with verify, also re-check each file's md5."""
    files = cache.files
    removed = files.remove_stalled(cache.stall_time, now or time.time())
    entries = {entry.image_id: entry for entry in cache.cached()}
    present = files.entry_names()
    for name in present:
        entry = entries.get(name)
        if entry is None or not _intact(cache, entry, verify):
            cache.delete(name, "invalid")
            removed.append(files.path_of(name))
    for image_id in set(entries) - set(present):
        cache.delete(image_id, "file missing")
        removed.append(files.path_of(image_id))
    return removed


def _intact(cache: "ImageCache", entry: CachedImage, verify: bool) -> bool:
    path = cache.files.path_of(entry.image_id)
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return False
    if (stat.st_size, stat.st_ino, stat.st_mtime_ns) != (entry.size, entry.inode, entry.mtime_ns):
        return False
    return md5_of(path) == entry.checksum if verify else True
