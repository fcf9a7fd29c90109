"""Logging in and out (a Keystone API), and the first page."""

from __future__ import annotations

import hmac

import falcon

from glancelab_toolkit.dashboard import identity
from glancelab_toolkit.dashboard.web import Dashboard, form_fields, gettext, local


class Login:
    def __init__(self, dashboard: Dashboard):
        self.dashboard = dashboard

    def on_get(self, req, resp):
        if self.dashboard.keystone is None:
            raise falcon.HTTPSeeOther("/images")
        self._form(req, resp)

    def _form(self, req, resp, refused: str = "", status=falcon.HTTP_200, **typed):
        # before a session exists, the form's CSRF token is checked against a cookie
        csrf = identity.new_csrf()
        resp.set_cookie("login_csrf", csrf, path="/login", http_only=True, same_site="Strict",
                        secure=self.dashboard.secure_cookies)
        self.dashboard.render(req, resp, "login.html", None, status=status, csrf=csrf,
                              refused=refused, next=local(req.get_param("next")),
                              **{"user": "", "project": "", "domain": "Default", **typed})

    def on_post(self, req, resp):
        if self.dashboard.keystone is None:
            raise falcon.HTTPSeeOther("/images")
        form = form_fields(req)
        cookie = req.cookies.get("login_csrf")
        if not cookie or not hmac.compare_digest(cookie, form.get("csrf", "")):
            raise falcon.HTTPForbidden(title="CSRF", description="the form is stale or forged")
        _ = gettext(req)
        typed = {"user": form.get("user", ""), "project": form.get("project", ""),
                 "domain": form.get("domain") or "Default"}
        try:
            session = self.dashboard.keystone.login(password=form.get("password", ""), **typed)
        except identity.LoginRefused:
            return self._form(req, resp, _("Wrong user, password or project."),
                              falcon.HTTP_401, **typed)
        except identity.IdentityUnavailable as exc:
            return self._form(req, resp, _("Keystone does not answer ({error}); try again "
                                           "in a moment.").format(error=exc),
                              falcon.HTTP_503, **typed)
        session_id = self.dashboard.sessions.open(session)
        resp.set_cookie(identity.COOKIE, session_id, path="/", http_only=True,
                        same_site="Strict", secure=self.dashboard.secure_cookies)
        resp.unset_cookie("login_csrf", path="/login")
        raise falcon.HTTPSeeOther(local(form.get("next")) or "/images")


class Logout:
    def __init__(self, dashboard: Dashboard):
        self.dashboard = dashboard

    def on_post(self, req, resp):
        session = self.dashboard.session(req)
        if session is None or self.dashboard.keystone is None:
            raise falcon.HTTPSeeOther("/login")
        if not session.csrf_matches(form_fields(req).get("csrf")):
            raise falcon.HTTPForbidden(title="CSRF", description="the form is stale or forged")
        self.dashboard.sessions.close(req.cookies.get(identity.COOKIE))
        self.dashboard.keystone.revoke(session.token)
        resp.unset_cookie(identity.COOKIE, path="/")
        raise falcon.HTTPSeeOther("/login")


class Home:
    def on_get(self, req, resp):
        raise falcon.HTTPSeeOther("/images")
