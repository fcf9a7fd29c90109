"""The admin cache API and the prefetcher."""

from __future__ import annotations

import logging

from glancelab import errors
from glancelab.cache import ImageCache, entry_view, is_entry_name
from glancelab.db import statuses
from glancelab.identity.context import RequestContext
from glancelab.db.models import LOCATIONS_OF, Image
from glancelab.runtime import Runtime
from glancelab.identity import access
from glancelab.images.data import open_store_data

LOG = logging.getLogger(__name__)
CLEAR_TARGETS = {"cache": "cache", "queue": "queue", "": "both"}


def _cache(rt: Runtime, ctx: RequestContext, action: str) -> ImageCache:
    access.authorize(ctx, action)
    if rt.cache is None:
        raise errors.not_found("The image cache is not enabled here: set image_cache_dir in "
                               "glance-api.conf.")
    return rt.cache


def list_cache(rt: Runtime, ctx: RequestContext) -> dict:
    cache = _cache(rt, ctx, "cache_list")
    return {"cached_images": [entry_view(e) for e in cache.cached()],
            "queued_images": cache.queued()}


def queue_image(rt: Runtime, ctx: RequestContext, image_id: str) -> None:
    cache = _cache(rt, ctx, "cache_image")
    image = access.get_visible_image(ctx, image_id)
    if image.status != statuses.ACTIVE:
        raise errors.bad_request(f"Image {image_id} is {image.status}: only active images "
                                 "can be queued for caching.")
    cache.queue(image.id)
    if rt.prefetcher is not None:
        rt.prefetcher.wake()  # cached within seconds, not at the next interval


def cached_nodes(rt: Runtime, ctx: RequestContext, image_id: str) -> list[str]:
    """The reference URLs of the nodes whose cache holds the image (centralized_db's)."""
    cache = _cache(rt, ctx, "list_cached_nodes")
    image = access.get_visible_image(ctx, image_id)
    return cache.nodes.nodes_of(image.id) if cache.nodes is not None else []


def delete_cached(rt: Runtime, ctx: RequestContext, image_id: str) -> None:
    cache = _cache(rt, ctx, "cache_delete")
    if not is_entry_name(image_id) or not cache.delete(image_id):
        raise errors.not_found(f"Image {image_id} is not in the cache.")


def clear(rt: Runtime, ctx: RequestContext, target_header: str | None) -> None:
    cache = _cache(rt, ctx, "cache_delete")
    target = CLEAR_TARGETS.get((target_header or "").strip().lower())
    if target is None:
        raise errors.bad_request("x-image-cache-clear-target must be 'cache' or 'queue' "
                                 "(or absent for both).")
    cache.clear(target)


def clean(rt: Runtime, ctx: RequestContext) -> None:
    """POST /v2/cache/clean (API 2.18): stalled partial copies and invalid entries go."""
    cache = _cache(rt, ctx, "cache_clean")
    with cache.maintenance():
        removed = cache.clean()
    LOG.info("cache cleaned", extra={"removed": len(removed)})


def prune(rt: Runtime, ctx: RequestContext) -> dict:
    """POST /v2/cache/prune (API 2.18): least recently used entries go until it fits."""
    cache = _cache(rt, ctx, "cache_prune")
    with cache.maintenance():
        sizes = {entry.image_id: entry.size for entry in cache.cached()}
        removed = cache.prune()
    return {"total_files_pruned": len(removed),
            "total_bytes_pruned": sum(sizes.get(image_id, 0) for image_id in removed)}


def prefetch(rt: Runtime) -> dict[str, str]:
    """Cache every queued image now (what the prefetcher does from cron)."""
    results = {}
    for image_id in rt.cache.queued():
        image = Image.get_or_none(Image.id == image_id)
        locations = LOCATIONS_OF.rows(image_id) if image else []
        if image is None or image.status != statuses.ACTIVE or not locations:
            rt.cache.dequeue(image_id)
            results[image_id] = "skipped: not an active image with data"
            continue
        url, metadata = locations[0]
        try:
            handle = open_store_data(rt, url, metadata, 0, image.size or 0)
            rt.cache.fill(image.id, image.size, image.checksum, handle)
        except errors.GlanceError as exc:
            results[image_id] = f"failed: {exc.description}"
            continue
        cached = any(e.image_id == image_id for e in rt.cache.cached())
        results[image_id] = "cached" if cached else "failed: the data did not match its checksum"
        if cached:
            rt.cache.dequeue(image_id)
    return results
