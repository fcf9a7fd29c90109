"""The Falcon application: routes, middleware and error handling."""

from __future__ import annotations

import falcon

from glancelab.cache import ImageCache
from glancelab.cache import resources as cache
from glancelab.conf import Config
from glancelab.db import UNAVAILABLE, bind_config, describe
from glancelab.identity import pipeline
from glancelab.identity.middleware import IdentityMiddleware, RequestIdMiddleware
from glancelab.identity.policy import Policy
from glancelab.images import data_resources as data
from glancelab.images import member_resources as members
from glancelab.images import resources as images
from glancelab.imports import resources as imports
from glancelab.imports.settings import ImportSettings
from glancelab.metadefs import resources as metadefs
from glancelab.quotas import resources as quotas
from glancelab.quotas.service import QuotaSettings
from glancelab.runtime import Runtime, Settings
from glancelab.stores import build_registry
from glancelab.multistore import resources as stores
from glancelab.stores.staging import staging_store
from glancelab.identity.protections import PropertyProtections
from glancelab.discovery import resources as discovery
from glancelab.health import resources as health
from glancelab.web.database import ReleaseConnection, unavailable_handler
from glancelab.web import errors as web_errors
from glancelab.web.cors import allow_origins
from glancelab.web.body import ClientTimeout, InputGuard, UnreadBody


def build_runtime(config: Config) -> Runtime:
    stores = build_registry(config)
    return Runtime(settings=Settings.from_config(config), stores=stores,
                   quotas=QuotaSettings.from_config(config),
                   imports=ImportSettings.from_config(config),
                   cache=ImageCache.from_config(config),
                   staging=staging_store(config, stores.default.local_directory()),
                   protections=PropertyProtections.from_config(config))


def create_app(config: Config, runtime: Runtime | None = None) -> falcon.App:
    rt = runtime or build_runtime(config)
    bind_config(config)
    identity = IdentityMiddleware(
        strategy=config.auth, policy=Policy(config),
        default_project=config.glancelab.noauth_project_id,
        default_user=config.glancelab.noauth_user_id,
        default_roles=config.glancelab.noauth_roles,
    )
    app = falcon.App(middleware=[RequestIdMiddleware(), ClientTimeout(config.client_socket_timeout),
                                 UnreadBody(), InputGuard(), identity, ReleaseConnection()])
    app.req_options.strip_url_path_trailing_slash = True
    app.req_options.auto_parse_qs_csv = False
    app.resp_options.secure_cookies_by_default = False
    web_errors.install(app)  # domain errors -> Glance's answers, in one place
    app.add_error_handler(UNAVAILABLE, unavailable_handler(describe(config.database.connection)))

    # Each domain adds its own routes: a feature changes in one folder.
    for domain in (discovery, images, data, members, imports, cache, quotas, stores, metadefs):
        domain.add_routes(app, rt)
    health.add_routes(app, rt, config)  # /healthcheck?detailed, for admins
    return app


def wsgi_app(config: Config, runtime: Runtime | None = None):
    """What the server serves: the app inside the layers auth_strategy asks for, the
    health check beside them (it needs no token, as in Glance), CORS around all."""
    rt = runtime or build_runtime(config)
    return allow_origins(
        health.beside(pipeline.protect(create_app(config, rt), config), config, rt), config)
