"""/healthcheck as Glance serves it: oslo.middleware's Healthcheck beside the API.

It answers before identity (no token needed), reads [healthcheck] (backends, detailed,
disable_by_file_path: an operator drains a node by creating that file, as with Glance),
and adds glancelab's own check after the operator's backends: 200 only while the
metadata database answers and the default store is usable, 503 naming what is not, so a
load balancer takes a node out of rotation when it cannot serve.
"""

from __future__ import annotations

import threading
import types

from oslo_middleware import healthcheck
from oslo_middleware.healthcheck import pluginbase

from glancelab.conf import Config
from glancelab.db import UNAVAILABLE, briefly, database, describe
from glancelab.runtime import Runtime
from glancelab.stores import StoreError

PATH = "/healthcheck"


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
        try:
            with briefly():
                database.execute_sql("SELECT 1")
        except UNAVAILABLE as exc:
            problems.append(f"metadata database ({self.database_name}) unavailable")
            details.append(str(exc).strip())
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
    """The WSGI app clients reach: /healthcheck answered here, everything else by `api`."""
    health = Healthcheck(config, rt, api)

    def dispatch(environ, start_response):
        if environ.get("PATH_INFO", "").rstrip("/") == PATH:
            return health(environ, start_response)
        return api(environ, start_response)

    return dispatch
