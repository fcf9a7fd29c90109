"""The pages: Falcon resources rendering Jinja2 templates in the user's language.

Every page but the login needs a session (a noauth API has one for everybody); every POST
checks the session's CSRF token before anything else.
"""

from __future__ import annotations

import os
import urllib.parse

import falcon
import jinja2

from glancelab_toolkit import i18n
from glancelab_toolkit.dashboard import glance, identity

HERE = os.path.dirname(os.path.abspath(__file__))
PAGE_SIZE = 25


def language(req: falcon.Request) -> str:
    """?lang= (kept in a cookie), else the cookie, else the browser's first language we
    speak, else English."""
    asked = req.get_param("lang") or req.cookies.get("lang")
    if asked in i18n.LANGUAGES:
        return asked
    for part in (req.get_header("Accept-Language") or "").split(","):
        code = part.split(";", 1)[0].strip().split("-", 1)[0].lower()
        if code in i18n.LANGUAGES:
            return code
    return "en"


class Dashboard:
    """What every page shares: the templates, the sessions, the API and Keystone."""

    def __init__(self, api_url: str, keystone_url: str | None, secure_cookies: bool):
        self.api_url = api_url
        self.keystone = identity.Keystone(keystone_url) if keystone_url else None
        self.sessions = identity.Sessions()
        self.secure_cookies = secure_cookies
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(os.path.join(HERE, "templates")),
            autoescape=True, trim_blocks=True, lstrip_blocks=True)

    def render(self, req, resp, template: str, session=None, status=falcon.HTTP_200, **values):
        lang = language(req)
        translations = i18n.catalogue(lang)
        resp.status = status
        resp.content_type = falcon.MEDIA_HTML
        resp.set_header("Cache-Control", "no-store")
        resp.set_header("Content-Security-Policy",
                        "default-src 'self'; frame-ancestors 'none'; form-action 'self'")
        resp.set_header("X-Frame-Options", "DENY")
        if req.get_param("lang") in i18n.LANGUAGES:
            resp.set_cookie("lang", lang, path="/", http_only=True, same_site="Lax",
                            secure=self.secure_cookies, max_age=365 * 86400)
        resp.text = self.templates.get_template(template).render(
            _=translations.gettext, lang=lang, session=session, path=req.path,
            login_needed=self.keystone is not None, **values)

    def session(self, req) -> identity.Session | None:
        if self.keystone is None:
            return ANYONE
        return self.sessions.find(req.cookies.get(identity.COOKIE))

    def glance(self, session: identity.Session) -> glance.Glance:
        return glance.Glance(self.api_url, session.headers())


ANYONE = identity.anonymous()


class NeedsSession:
    """A page for a logged-in user: the others go to the login page, back here after."""

    def __init__(self, dashboard: Dashboard):
        self.dashboard = dashboard

    def signed_in(self, req) -> identity.Session:
        session = self.dashboard.session(req)
        if session is None:
            back = urllib.parse.quote(req.relative_uri, safe="")
            raise falcon.HTTPSeeOther(f"/login?next={back}")
        return session

    def show(self, req, resp, session, template: str, fetch):
        """The page, or the API's refusal or outage said on it (4xx, or 503 naming it)."""
        try:
            values = fetch()
        except glance.ApiUnavailable as exc:
            return self.dashboard.render(req, resp, "error.html", session,
                                         status=falcon.HTTP_503, unavailable=str(exc))
        except glance.ApiRefused as exc:
            return self.dashboard.render(req, resp, "error.html", session,
                                         status=falcon.code_to_http_status(exc.status),
                                         refused=str(exc))
        self.dashboard.render(req, resp, template, session, **values)


class Images(NeedsSession):
    def on_get(self, req, resp):
        session = self.signed_in(req)
        tab = req.get_param("tab") or "project"
        if tab not in glance.TABS:
            tab = "project"
        name = (req.get_param("name") or "").strip()
        marker = req.get_param("marker")

        def fetch():
            page = self.dashboard.glance(session).images(
                glance.tab_filters(tab, session.project_id), name, marker, PAGE_SIZE)
            images = page.get("images", [])
            following = None
            if page.get("next") and images:
                following = images[-1]["id"]
            return {"images": images, "tab": tab, "tabs": glance.TABS, "name": name,
                    "following": following}

        self.show(req, resp, session, "images.html", fetch)


class Quotas(NeedsSession):
    def on_get(self, req, resp):
        session = self.signed_in(req)

        def fetch():
            bars = []
            for key, value in sorted(self.dashboard.glance(session).usage().items()):
                limit, used = value.get("limit"), value.get("usage", 0)
                share = None if limit is None or limit < 0 else (
                    100 if limit == 0 else min(100, round(100 * used / limit)))
                bars.append({"key": key, "limit": limit, "used": used, "percent": share})
            return {"bars": bars}

        self.show(req, resp, session, "quotas.html", fetch)


class Stores(NeedsSession):
    def on_get(self, req, resp):
        session = self.signed_in(req)

        def fetch():
            api = self.dashboard.glance(session)
            try:
                try:
                    return {"stores": api.stores(detail=session.is_admin),
                            "detailed": session.is_admin}
                except glance.ApiRefused as exc:
                    if exc.status != 403:
                        raise
                    return {"stores": api.stores(detail=False), "detailed": False}
            except glance.ApiRefused as exc:
                if exc.status != 404:
                    raise
                # Glance's answer without enabled_backends: one store, not listed
                return {"stores": [], "detailed": False, "single": str(exc)}

        self.show(req, resp, session, "stores.html", fetch)


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
                              refused=refused, next=_local(req.get_param("next")),
                              **{"user": "", "project": "", "domain": "Default", **typed})

    def on_post(self, req, resp):
        if self.dashboard.keystone is None:
            raise falcon.HTTPSeeOther("/images")
        form = _form_fields(req)
        cookie = req.cookies.get("login_csrf")
        if not cookie or not identity.hmac.compare_digest(cookie, form.get("csrf", "")):
            raise falcon.HTTPForbidden(title="CSRF", description="the form is stale or forged")
        _ = i18n.catalogue(language(req)).gettext
        typed = {"user": form.get("user", ""), "project": form.get("project", ""),
                 "domain": form.get("domain") or "Default"}
        try:
            session = self.dashboard.keystone.login(password=form.get("password", ""),
                                                   **typed)
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
        raise falcon.HTTPSeeOther(_local(form.get("next")) or "/images")


class Logout:
    def __init__(self, dashboard: Dashboard):
        self.dashboard = dashboard

    def on_post(self, req, resp):
        session = self.dashboard.session(req)
        if session is None or self.dashboard.keystone is None:
            raise falcon.HTTPSeeOther("/login")
        if not session.csrf_matches(_form_fields(req).get("csrf")):
            raise falcon.HTTPForbidden(title="CSRF", description="the form is stale or forged")
        self.dashboard.sessions.close(req.cookies.get(identity.COOKIE))
        self.dashboard.keystone.revoke(session.token)
        resp.unset_cookie(identity.COOKIE, path="/")
        raise falcon.HTTPSeeOther("/login")


class Home:
    def on_get(self, req, resp):
        raise falcon.HTTPSeeOther("/images")


def _form_fields(req) -> dict[str, str]:
    if req.content_length and req.content_length > 64 * 1024:
        raise falcon.HTTPPayloadTooLarge(description="a form is small")
    body = req.bounded_stream.read().decode("utf-8", "replace")
    return {key: values[0] for key, values in urllib.parse.parse_qs(body).items()}


def _local(target: str | None) -> str:
    """Only a path of this dashboard to go back to after the login (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return ""
