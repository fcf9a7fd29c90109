"""What every page shares: the templates in the user's language, the session, the forms.

Every page but the login needs a session (a noauth API has one for everybody); every POST
checks the session's CSRF token before anything else is read or asked.
"""

from __future__ import annotations

import os
import urllib.parse

import falcon
import jinja2

from glancelab_toolkit import i18n
from glancelab_toolkit.dashboard import glance, identity

HERE = os.path.dirname(os.path.abspath(__file__))
FORM_MAX = 64 * 1024


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


def gettext(req: falcon.Request):
    return i18n.catalogue(language(req)).gettext


class Dashboard:
    """The templates, the sessions, the API and Keystone; one for the whole app."""

    def __init__(self, api_url: str, keystone_url: str | None, secure_cookies: bool = False,
                 cache_nodes: list[str] | None = None, lab_homes: str | None = None,
                 lab_actions: bool = False):
        self.api_url = api_url
        self.keystone = identity.Keystone(keystone_url) if keystone_url else None
        self.sessions = identity.Sessions()
        self.secure_cookies = secure_cookies
        self.cache_nodes = cache_nodes or [api_url]
        self.lab_homes = lab_homes  # the trainer's directory of trainees' lab homes
        # start, grade and finish run here, as this machine's trainee: only on loopback
        self.lab_actions = lab_actions
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(os.path.join(HERE, "templates")),
            autoescape=True, trim_blocks=True, lstrip_blocks=True)

    def render(self, req, resp, template: str, session=None, status=falcon.HTTP_200, **values):
        lang = language(req)
        resp.status = status
        resp.content_type = falcon.MEDIA_HTML
        resp.set_header("Cache-Control", "no-store")
        resp.set_header("Content-Security-Policy",
                        "default-src 'self'; frame-ancestors 'none'; form-action 'self'")
        resp.set_header("X-Frame-Options", "DENY")
        resp.set_header("Referrer-Policy", "same-origin")
        if req.get_param("lang") in i18n.LANGUAGES:
            resp.set_cookie("lang", lang, path="/", http_only=True, same_site="Lax",
                            secure=self.secure_cookies, max_age=365 * 86400)
        resp.text = self.templates.get_template(template).render(
            _=i18n.catalogue(lang).gettext, lang=lang, session=session, path=req.path,
            login_needed=self.keystone is not None, **values)

    def refusal(self, req, resp, error: falcon.HTTPError, _params) -> None:
        """A refusal of the dashboard's own (403 CSRF, 404, 400): a page in the user's
        language for a browser, JSON for the pages' script."""
        if req.client_accepts_json and not req.client_accepts("text/html"):
            resp.status = error.status
            resp.media = {"message": error.description or error.title}
            return
        self.render(req, resp, "error.html", self.session(req), status=error.status,
                    refused=error.description or error.title)

    def session(self, req) -> identity.Session | None:
        if self.keystone is None:
            return ANYONE
        return self.sessions.find(req.cookies.get(identity.COOKIE))

    def glance(self, session: identity.Session, url: str | None = None) -> glance.Glance:
        return glance.Glance(url or self.api_url, session.headers())


ANYONE = identity.anonymous()


class Page:
    """A page for a signed-in user: the others go to the login page, and back after."""

    def __init__(self, dashboard: Dashboard):
        self.dashboard = dashboard

    def signed_in(self, req) -> identity.Session:
        session = self.dashboard.session(req)
        if session is None:
            back = urllib.parse.quote(req.relative_uri, safe="")
            raise falcon.HTTPSeeOther(f"/login?next={back}")
        return session

    def posted(self, req) -> tuple[identity.Session, dict[str, str]]:
        """A form's session and fields, once its CSRF token matched (403 otherwise)."""
        session = self.signed_in(req)
        fields = form_fields(req)
        offered = fields.get("csrf") or req.get_header("X-CSRF-Token")
        if not session.csrf_matches(offered):
            raise falcon.HTTPForbidden(title="CSRF", description="the form is stale or forged")
        return session, fields

    def show(self, req, resp, session, template: str, fetch):
        """The page, or the API's refusal or outage said on it (its 4xx, or 503 naming it)."""
        try:
            values = fetch()
        except (glance.ApiUnavailable, glance.ApiRefused) as exc:
            return self.api_failed(req, resp, session, exc)
        self.dashboard.render(req, resp, template, session, **values)

    def act(self, req, resp, session, action, back, refused_back: str = ""):
        """Do `action` against the API, then go to `back` (a path, or a function giving it
        once the action is done: a 303), or say why not (with a link to `refused_back`)."""
        try:
            action()
        except (glance.ApiUnavailable, glance.ApiRefused) as exc:
            return self.api_failed(req, resp, session, exc,
                                   refused_back or (back if isinstance(back, str) else ""))
        raise falcon.HTTPSeeOther(back() if callable(back) else back)

    @staticmethod
    def api_failed_json(resp, exc: Exception) -> None:
        """The same, for the pages' script: its status and message as JSON."""
        resp.status = falcon.code_to_http_status(getattr(exc, "status", 503))
        resp.media = {"message": str(exc)}

    def api_failed(self, req, resp, session, exc: Exception, back: str = "") -> None:
        """The API's outage (503, naming it) or refusal (its own status and message)."""
        if isinstance(exc, glance.ApiUnavailable):
            return self.dashboard.render(req, resp, "error.html", session,
                                         status=falcon.HTTP_503, unavailable=str(exc))
        _ = gettext(req)
        self.dashboard.render(
            req, resp, "error.html", session, status=falcon.code_to_http_status(exc.status),
            refused=_("The image API refused: {error}").format(error=exc), back=back)


def form_fields(req) -> dict[str, str]:
    """An urlencoded form's fields (a small body; an upload never comes this way)."""
    if req.content_type and not req.content_type.startswith("application/x-www-form-urlencoded"):
        return {}
    if (req.content_length or 0) > FORM_MAX:
        raise falcon.HTTPPayloadTooLarge(description="a form is small")
    body = req.bounded_stream.read(FORM_MAX + 1).decode("utf-8", "replace")
    return {key: values[0] for key, values in urllib.parse.parse_qs(body).items()}


def local(target: str | None) -> str:
    """Only a path of this dashboard to go back to (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return ""
