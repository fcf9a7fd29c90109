"""The Falcon application: routes, middleware and error handling."""

from __future__ import annotations

import falcon

from glancelab import errors
from glancelab.cache import ImageCache
from glancelab.conf import Config
from glancelab.db import bind
from glancelab.identity.middleware import IdentityMiddleware, RequestIdMiddleware
from glancelab.cache import resources as cache
from glancelab.images import data_resources as data
from glancelab.web import discovery
from glancelab.images import resources as images
from glancelab.imports import resources as imports
from glancelab.images import member_resources as members
from glancelab.metadefs import resources as metadefs
from glancelab.quotas import resources as quotas
from glancelab.stores import resources as stores
from glancelab.runtime import ImportSettings, Runtime, Settings
from glancelab.quotas.service import QuotaSettings
from glancelab.stores import build_registry
from glancelab.stores.filesystem import FilesystemStore
from glancelab.stores.staging import staging_store


def build_runtime(config: Config) -> Runtime:
    stores = build_registry(config)
    return Runtime(settings=Settings.from_config(config), stores=stores,
                   quotas=QuotaSettings.from_config(config),
                   cache=ImageCache.from_config(config), staging=staging_store(config, _default_datadir(stores)),
                   imports=ImportSettings.from_config(config))


def _default_datadir(stores) -> str | None:
    default = stores.default
    return default.datadirs[0][0] if isinstance(default, FilesystemStore) else None


def create_app(config: Config, runtime: Runtime | None = None) -> falcon.App:
    rt = runtime or build_runtime(config)
    bind(config.database.connection)
    identity = IdentityMiddleware(
        strategy=config.auth,
        default_project=config.glancelab.noauth_project_id,
        default_user=config.glancelab.noauth_user_id,
        default_roles=config.glancelab.noauth_roles,
    )
    app = falcon.App(middleware=[RequestIdMiddleware(), identity])
    app.req_options.strip_url_path_trailing_slash = True
    app.req_options.auto_parse_qs_csv = False
    app.resp_options.secure_cookies_by_default = False
    app.set_error_serializer(errors.serialize_error)
    app.add_error_handler(Exception, errors.handle_unexpected)

    app.add_route("/", discovery.VersionsResource(rt, falcon.HTTP_300))
    app.add_route("/versions", discovery.VersionsResource(rt, falcon.HTTP_200))
    app.add_route("/healthcheck", discovery.HealthResource())
    app.add_route("/v2/schemas/{name}", discovery.SchemaResource(rt))
    app.add_route("/v2/images", images.ImagesCollection(rt))
    app.add_route("/v2/images/{image_id}", images.ImageItem(rt))
    app.add_route("/v2/images/{image_id}/file", data.ImageData(rt))
    app.add_route("/v2/images/{image_id}/actions/{action}", images.ImageAction())
    app.add_route("/v2/images/{image_id}/locations", images.ImageLocations(rt))
    app.add_route("/v2/images/{image_id}/stage", imports.ImageStage(rt))
    app.add_route("/v2/images/{image_id}/import", imports.ImageImport(rt))
    app.add_route("/v2/images/{image_id}/tasks", imports.ImageTasks())
    app.add_route("/v2/info/import", imports.ImportInfo(rt))
    app.add_route("/v2/tasks", imports.TasksCollection(rt))
    app.add_route("/v2/tasks/{task_id}", imports.TaskItem())
    app.add_route("/v2/images/{image_id}/tags/{tag}", images.ImageTag(rt))
    app.add_route("/v2/images/{image_id}/members", members.MembersCollection(rt))
    app.add_route("/v2/images/{image_id}/members/{member_id}", members.MemberItem(rt))
    app.add_route("/v2/cache", cache.CacheCollection(rt))
    app.add_route("/v2/cache/{image_id}", cache.CachedImageResource(rt))
    app.add_route("/v2/info/usage", quotas.Usage(rt))
    app.add_route("/v2/quotas", quotas.QuotaCollection(rt))
    app.add_route("/v2/quotas/{project_id}", quotas.ProjectQuota(rt))
    app.add_route("/v2/info/stores", stores.StoresInfo(rt, detail=False))
    app.add_route("/v2/info/stores/detail", stores.StoresInfo(rt, detail=True))
    app.add_route("/v2/stores/{store_id}/{image_id}", stores.StoreImage(rt))
    metadefs.add_routes(app, rt)
    return app
