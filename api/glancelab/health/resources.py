"""/healthcheck as Glance serves it: oslo.middleware's Healthcheck beside the API.

It answers before identity (no token needed), reads [healthcheck] (backends, detailed,
disable_by_file_path: an operator drains a node by creating that file, as with Glance),
and adds glancelab's own check after the operator's backends: 200 only while the
metadata database answers and the default store is usable, 503 naming what is not, so a
load balancer takes a node out of rotation when it cannot serve.
"""

from __future__ import annotations

import os
import threading
import types

import falcon
from oslo_middleware import healthcheck
from oslo_middleware.healthcheck import pluginbase

from glancelab import __version__, errors
from glancelab.conf import Config
from glancelab.db import UNAVAILABLE, briefly, database, describe, pool_usage
from glancelab.identity.middleware import asks_detail
from glancelab.multistore.service import store_usage
from glancelab.runtime import Runtime
from glancelab.stores import StoreError

PATH = "/healthcheck"


def unanswered_database() -> str | None:
    """Why the metadata database does not answer a trivial query, or None when it does."""
    try:
        with briefly():
            database.execute_sql("SELECT 1")
    except UNAVAILABLE as exc:
        return str(exc).strip() or type(exc).__name__
    return None


class DependencyCheck(pluginbase.HealthcheckBaseExtension):
    """What this node needs to serve: the database and its default store."""

    def __init__(self, rt: Runtime, database_name: str, only_check: bool):
        self.rt = rt
        self.database_name = database_name
        # oslo.middleware joins the backends' reasons: say "OK" only when no other does
        self.ok_reason = "OK" if only_check else ""
        # One probe at a time: while a slow dependency keeps one thread waiting (up to the
        # store client's timeouts), other checks answer what it found last.
        self.probing = threading.Lock()
        self.last = pluginbase.HealthcheckResult(available=True, reason=self.ok_reason)

    def healthcheck(self, server_port: int) -> pluginbase.HealthcheckResult:
        if not self.probing.acquire(blocking=False):
            return self.last
        try:
            self.last = self._probe()
            return self.last
        finally:
            self.probing.release()

    def _probe(self) -> pluginbase.HealthcheckResult:
        problems, details = [], []
        database_problem = unanswered_database()
        if database_problem:
            problems.append(f"metadata database ({self.database_name}) unavailable")
            details.append(database_problem)
        store = self.rt.stores.default
        try:
            store.check()
        except StoreError as exc:
            problems.append(f"default store {store.id} unusable")
            details.append(str(exc))
        if problems:
            return pluginbase.HealthcheckResult(available=False, reason="; ".join(problems),
                                                details="; ".join(details))
        return pluginbase.HealthcheckResult(available=True, reason=self.ok_reason,
                                            details="database and default store answer")


class Healthcheck(healthcheck.Healthcheck):
    """oslo.middleware's Healthcheck with glancelab's DependencyCheck after the backends
    [healthcheck] names (those come from oslo.middleware's plugins, as in Glance)."""

    def __init__(self, config: Config, rt: Runtime, application):
        # `application` answers what the middleware passes by (a caller outside
        # allowed_source_ranges): the API, which has no /healthcheck of its own (404).
        super().__init__(application, config.oslo)
        own = DependencyCheck(rt, describe(config.database.connection),
                              only_check=not self._conf_get("backends"))
        # the loaded backends, as the middleware iterates them, then ours
        self._backends = [*self._backends, types.SimpleNamespace(obj=own)]


def beside(api, config: Config, rt: Runtime):
    """The WSGI app clients reach: /healthcheck answered here, everything else by `api`
    (/healthcheck?detailed too: it needs an admin's identity, as every API call does)."""
    health = Healthcheck(config, rt, api)

    def dispatch(environ, start_response):
        if environ.get("PATH_INFO", "").rstrip("/") == PATH and \
                not asks_detail(environ.get("QUERY_STRING", "")):
            return health(environ, start_response)
        return api(environ, start_response)

    return dispatch


class DetailedHealth:
    """GET /healthcheck?detailed, for admins: what this node depends on, one by one."""

    def __init__(self, config: Config, rt: Runtime):
        self.rt = rt
        self.database_name = describe(config.database.connection)
        backends = config.oslo.healthcheck.backends
        self.drain_file = (config.oslo.healthcheck.disable_by_file_path
                           if "disable_by_file" in backends else None)
        self.node = config.self_url

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if not asks_detail(req.query_string):
            raise errors.not_found("The resource could not be found.")
        if not req.context.auth.is_admin:
            raise errors.forbidden("Only an admin sees the health check's details; "
                                   "GET /healthcheck answers anyone.")
        stores = {}
        for store_id, problem in self.rt.stores.check().items():
            stores[store_id] = "OK" if problem is None else str(problem)
        database_problem = unanswered_database()
        usage = None if database_problem else store_usage(self.rt)
        database_state = f"unavailable: {database_problem}" if database_problem else "OK"
        drained = bool(self.drain_file) and os.path.exists(self.drain_file)
        healthy = (database_state == "OK" and not drained
                   and stores.get(self.rt.stores.default_id) == "OK")
        resp.status = falcon.HTTP_200 if healthy else falcon.HTTP_503
        resp.media = {"detailed": True, "healthy": healthy, "node": self.node,
                      "version": __version__,
                      "drained": drained, "drain_file": self.drain_file,
                      "database": {"name": self.database_name, "state": database_state,
                                   **pool_usage()},
                      "default_store": self.rt.stores.default_id, "stores": stores,
                      # images and bytes each store holds (None: too many to count quickly)
                      "store_usage": usage,
                      # what the cache holds against image_cache_max_size (the dashboard's bar)
                      "cache": None if self.rt.cache is None else {
                          "size": self.rt.cache.total_size(),
                          "max_size": self.rt.cache.max_size}}


def add_routes(app: falcon.App, rt: Runtime, config: Config) -> None:
    app.add_route(PATH, DetailedHealth(config, rt))
