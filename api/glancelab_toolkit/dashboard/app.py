"""The dashboard's routes."""

from __future__ import annotations

import os

import falcon

from glancelab_toolkit.dashboard import pages


def create_app(api_url: str, keystone_url: str | None, secure_cookies: bool = False):
    dashboard = pages.Dashboard(api_url, keystone_url, secure_cookies)
    app = falcon.App()
    app.add_route("/", pages.Home())
    app.add_route("/login", pages.Login(dashboard))
    app.add_route("/logout", pages.Logout(dashboard))
    app.add_route("/images", pages.Images(dashboard))
    app.add_route("/quotas", pages.Quotas(dashboard))
    app.add_route("/stores", pages.Stores(dashboard))
    app.add_static_route("/static", os.path.join(pages.HERE, "static"))
    return app
