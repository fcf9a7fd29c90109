"""The dashboard's routes."""

from __future__ import annotations

import os

import falcon

from glancelab_toolkit.dashboard import account, images, labs, usage
from glancelab_toolkit.dashboard.web import HERE, Dashboard


def create_app(api_url: str, keystone_url: str | None, secure_cookies: bool = False,
               cache_nodes: list[str] | None = None, lab_homes: str | None = None,
               lab_actions: bool = False):
    dashboard = Dashboard(api_url, keystone_url, secure_cookies, cache_nodes, lab_homes,
                          lab_actions)
    app = falcon.App()
    app.req_options.strip_url_path_trailing_slash = True
    for path, resource in (
            ("/", account.Home()),
            ("/login", account.Login(dashboard)),
            ("/logout", account.Logout(dashboard)),
            ("/images", images.Images(dashboard)),
            ("/images/new", images.NewImage(dashboard)),
            ("/images/status", images.Statuses(dashboard)),
            ("/images/{image_id}", images.ImageDetail(dashboard)),
            ("/images/{image_id}/data/{where}", images.ImageData(dashboard)),
            ("/images/{image_id}/do/{action}", images.ImageAction(dashboard)),
            ("/quotas", usage.Quotas(dashboard)),
            ("/stores", usage.Stores(dashboard)),
            ("/cache", usage.Cache(dashboard)),
            ("/tasks", usage.Tasks(dashboard)),
            ("/labs", labs.Labs(dashboard)),
            ("/labs/{number}", labs.LabPage(dashboard)),
            ("/class", labs.Class(dashboard)),
    ):
        app.add_route(path, resource)
    app.add_static_route("/static", os.path.join(HERE, "static"))
    app.add_error_handler(falcon.HTTPError, dashboard.refusal)
    return app
