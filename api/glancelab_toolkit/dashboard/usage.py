"""What the API holds and allows: quotas, stores, the cache of each node, tasks."""

from __future__ import annotations

import falcon

from glancelab_toolkit.dashboard import glance
from glancelab_toolkit.dashboard.images import IMAGE_ID
from glancelab_toolkit.dashboard.web import Page


def percent(used: int, limit: int | None) -> int | None:
    """How full, for a bar (None: no limit)."""
    if limit is None or limit < 0:
        return None
    return 100 if limit == 0 else min(100, round(100 * used / limit))


class Quotas(Page):
    def on_get(self, req, resp):
        session = self.signed_in(req)

        def fetch():
            bars = [{"key": key, "limit": value.get("limit"), "used": value.get("usage", 0),
                     "percent": percent(value.get("usage", 0), value.get("limit"))}
                    for key, value in sorted(self.dashboard.glance(session).usage().items())]
            return {"bars": bars}

        self.show(req, resp, session, "quotas.html", fetch)


class Stores(Page):
    def on_get(self, req, resp):
        session = self.signed_in(req)

        def fetch():
            api = self.dashboard.glance(session)
            # glancelab's detailed health, for admins: each store's state, images and bytes
            health = api.health() if session.is_admin else {}
            try:
                try:
                    return {"stores": api.stores(detail=session.is_admin),
                            "detailed": session.is_admin,
                            "health": health.get("stores") or {},
                            "usage": health.get("store_usage") or {}}
                except glance.ApiRefused as exc:
                    if exc.status != 403:  # the detail is for admins (policy)
                        raise
                    return {"stores": api.stores(detail=False), "detailed": False}
            except glance.ApiRefused as exc:
                if exc.status != 404:
                    raise
                # Glance's answer without enabled_backends: one store, not listed
                return {"stores": [], "detailed": False, "single": str(exc)}

        self.show(req, resp, session, "stores.html", fetch)


class Cache(Page):
    """Each node's cache (the nodes named by --cache-node, else the API itself)."""

    def on_get(self, req, resp):
        session = self.signed_in(req)

        def fetch():
            nodes = []
            for url in self.dashboard.cache_nodes:
                api = self.dashboard.glance(session, url)
                try:
                    listing = api.cache()
                    cached = listing.get("cached_images", [])
                    limits = (api.health().get("cache") or {}) if session.is_admin else {}
                    nodes.append({"url": url, "cached": cached,
                                  "queued": listing.get("queued_images", []),
                                  "bytes": sum(e.get("size") or 0 for e in cached),
                                  "hits": sum(e.get("hits") or 0 for e in cached),
                                  "max_size": limits.get("max_size"),
                                  "percent": percent(limits.get("size", 0),
                                                     limits.get("max_size"))})
                except glance.ApiUnavailable as exc:
                    nodes.append({"url": url, "unavailable": str(exc)})
                except glance.ApiRefused as exc:
                    nodes.append({"url": url, "refused": str(exc)})
            return {"nodes": nodes}

        self.show(req, resp, session, "cache.html", fetch)

    def on_post(self, req, resp):
        session, form = self.posted(req)
        url = form.get("node", "")
        if url not in self.dashboard.cache_nodes:
            raise falcon.HTTPBadRequest(description="not one of this dashboard's nodes")
        api = self.dashboard.glance(session, url)
        action, image_id = form.get("action", ""), form.get("image", "").strip()
        if image_id and not IMAGE_ID.match(image_id):
            raise falcon.HTTPBadRequest(description="not an image id")

        def do():
            if action == "queue":
                api.queue_for_cache(image_id)
            elif action == "delete":
                api.cache_delete(image_id or None)
            elif action in ("prune", "clean"):
                api.cache_maintain(action)
            else:
                raise falcon.HTTPBadRequest(description="queue, delete, prune or clean")

        self.act(req, resp, session, do, "/cache")


class Tasks(Page):
    def on_get(self, req, resp):
        session = self.signed_in(req)

        def fetch():
            page = self.dashboard.glance(session).tasks(req.get_param("marker"), 25)
            return {"tasks": page.get("tasks", []),
                    "following": glance.next_marker(page, "tasks")}

        self.show(req, resp, session, "tasks.html", fetch)
