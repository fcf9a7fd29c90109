"""`glancelab serve`: the app under gunicorn's gthread workers (web/worker.py: request
heads read by the event loop, so slow clients hold no thread).

gthread because it keeps connections alive (the GET-image rate depends on it), hands
file downloads to sendfile, reads uploads with large recv() calls, and lets one worker
stream several images at once. The master prepares the database and recovers
interrupted uploads before forking, and recovers a worker's uploads if it dies.
"""

from __future__ import annotations

import errno
import logging
import socket

from gunicorn.app.base import BaseApplication

from glancelab import recovery
from glancelab.app import build_runtime, wsgi_app
from glancelab.cache.prefetcher import Prefetcher
from glancelab.conf import Config, ConfigError
from glancelab.stores import StoreError, StoreUnavailable
from glancelab.db import bind_config, database, disconnect
from glancelab.db import migrations
from glancelab.identity import pipeline
from glancelab.identity.policy import Policy
from glancelab.images import lifecycle
from glancelab.web.worker import ClientLimits, worker_class

LOG = logging.getLogger(__name__)


def prepare(config: Config) -> None:
    """Migrate, check the stores, requeue this host's interrupted uploads, drop orphans."""
    pipeline.check_exposure(config)
    lifecycle.name_node(config.bind_port)  # before the workers fork: they share it
    policy = Policy(config)
    try:
        policy.load()
    except Exception as exc:  # oslo.policy's own parse errors
        raise ConfigError(f"[oslo_policy] policy_file cannot be used: {exc}") from None
    rt = build_runtime(config)
    if rt.protections is not None:
        unknown = sorted(rt.protections.policy_names() - set(policy.enforcer.rules))
        if unknown:
            raise ConfigError(f"property_protection_file names policy rules that are not "
                              f"defined: {', '.join(unknown)}; define them in policy.yaml")
    try:
        rt.stores.prepare()
    except StoreError as exc:  # a store that cannot be set up at all: nothing to serve
        raise ConfigError(str(exc)) from None  # the operator's console: the whole message
    if rt.cache is not None:
        rt.cache.prepare()
    for store_id, problem in rt.stores.check().items():
        if isinstance(problem, StoreUnavailable):
            # It may come back: serve the other stores meanwhile, and say so.
            LOG.warning("store %s is unreachable at start: %s", store_id, problem)
        elif problem is not None:
            raise ConfigError(str(problem))
    bind_config(config)
    try:
        # Only expand at start: a contract waits until every node runs this release.
        applied = migrations.expand(database.obj)
        if applied:
            LOG.info("database expanded", extra={"applied": applied})
        if migrations.pending(database.obj, migrations.CONTRACT):
            LOG.warning("contract migrations are pending: run `glancelab db contract` once "
                        "every API node runs this release")
        recovery.recover_uploads(rt.stores, lifecycle.this_host(), rt.staging)
        recovery.recover_imports(rt, lifecycle.this_host())
        recovery.recover_previous_release(rt)
        if rt.cache is not None:  # no worker runs yet: every partial copy is a dead one's
            rt.cache.recover()
        recovery.report_orphans(rt.stores)
        recovery.remove_stale_staging(rt.staging)
    finally:
        disconnect()  # no connection of the master's may outlive the fork into workers


class GlancelabServer(BaseApplication):
    def __init__(self, config: Config):
        self.config = config
        super().__init__()

    def load_config(self) -> None:
        c = self.config
        options = {
            "bind": c.bind_address,
            "workers": c.workers,
            "worker_class": worker_class(ClientLimits(
                header_timeout=c.glancelab.client_header_timeout,
                body_timeout=c.glancelab.client_body_timeout,
                body_min_rate=c.glancelab.client_body_min_rate,
                small_body=c.max_request_body_size)),
            "threads": c.glancelab.threads,
            "keepalive": 5,
            "timeout": 60,
            "graceful_timeout": 30,
            "proc_name": "glancelab-api",
            "accesslog": None,
            "errorlog": "-",
            "on_starting": self._on_starting,
            "child_exit": self._child_exit,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self):
        # Runs in each worker after the fork: each has its own runtime and prefetcher.
        rt = build_runtime(self.config)
        app = wsgi_app(self.config, rt)
        if rt.cache is not None:
            rt.prefetcher = Prefetcher(rt, self.config.cache_prefetcher_interval).start()
        return app

    def _on_starting(self, arbiter) -> None:
        prepare(self.config)

    def _child_exit(self, arbiter, worker) -> None:
        # A worker killed mid-upload: put exactly its uploads back to queued.
        bind_config(self.config)
        try:
            rt = build_runtime(self.config)
            holder = lifecycle.writer_id(worker.pid)
            stuck = recovery.recover_uploads(rt.stores, holder, rt.staging)
            recovery.recover_imports(rt, holder)
            if rt.cache is not None:
                rt.cache.recover(worker.pid)
            if stuck:
                LOG.warning("worker %s died during uploads of %s", worker.pid, stuck)
        except Exception:  # noqa: BLE001 - the master must survive; next start retries
            LOG.exception("recovery after worker %s exit failed", worker.pid)
        finally:
            disconnect()


def check_port_free(config: Config) -> None:
    """A port another program holds, named with the options that move it (gunicorn would
    retry five times, then print its own error)."""
    family = socket.AF_INET6 if ":" in config.bind_host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((config.bind_host, config.bind_port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(f"{config.bind_address} is already in use by another "
                                  "program: stop it, or choose another bind_port (and "
                                  "bind_host) in [DEFAULT] of glance-api.conf") from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise ConfigError(f"bind_host = {config.bind_host} is not an address of this "
                                  "machine; set bind_host in [DEFAULT] of glance-api.conf") \
                    from None
            raise


def serve(config: Config) -> None:
    check_port_free(config)
    GlancelabServer(config).run()
