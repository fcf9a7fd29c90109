"""Domain errors carry no HTTP; web/errors.py alone maps each kind to Glance's answer."""

import falcon
import falcon.testing
import pytest

from glancelab import errors
from glancelab.web import errors as web_errors

KINDS = [(errors.Invalid, 400, "Bad Request"), (errors.NotAuthenticated, 401, "Unauthorized"),
         (errors.Forbidden, 403, "Forbidden"), (errors.NotFound, 404, "Not Found"),
         (errors.TimedOut, 408, "Request Timeout"), (errors.Conflict, 409, "Conflict"),
         (errors.Gone, 410, "Gone"), (errors.OverLimit, 413, "Request Entity Too Large"),
         (errors.UnsupportedMedia, 415, "Unsupported Media Type"),
         (errors.RangeNotSatisfiable, 416, "Requested Range Not Satisfiable"),
         (errors.Unavailable, 503, "Service Unavailable")]


class Raises:
    def __init__(self, exc):
        self.exc = exc

    def on_get(self, req, resp):
        raise self.exc


def client_raising(exc) -> falcon.testing.TestClient:
    app = falcon.App()
    web_errors.install(app)
    app.add_route("/x", Raises(exc))
    return falcon.testing.TestClient(app)


def test_no_domain_error_is_an_http_error():
    assert not issubclass(errors.GlanceError, falcon.HTTPError)
    assert set(web_errors.STATUS) >= {kind for kind, _code, _title in KINDS}


@pytest.mark.parametrize("kind, code, title", KINDS)
def test_each_kind_answers_glances_status_and_format(kind, code, title):
    client = client_raising(kind("what went wrong; what to do"))
    answer = client.simulate_get("/x", headers={"Accept": "application/json"})
    assert answer.status_code == code
    assert answer.json == {"code": f"{code} {title}", "title": title,
                           "message": "what went wrong; what to do"}
    plain = client.simulate_get("/x", headers={"Accept": "*/*"})
    assert plain.text == f"{code} {title}\n\nwhat went wrong; what to do\n"


def test_headers_travel_with_the_error():
    answer = client_raising(errors.unavailable("later", {"Retry-After": "5"})).simulate_get("/x")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"


def test_anything_else_is_a_500_that_names_the_log_not_a_traceback():
    answer = client_raising(KeyError("secret detail")).simulate_get(
        "/x", headers={"Accept": "application/json"})
    assert answer.status_code == 500
    assert "secret detail" not in answer.text and "see its log" in answer.json["message"]


def test_a_handler_that_refuses_answers_the_same():
    class Elsewhere(Exception):
        pass

    def handler(req, resp, exc, params):
        raise errors.conflict("busy")

    app = falcon.App()
    web_errors.install(app)
    app.add_error_handler(Elsewhere, web_errors.answering_domain_errors(handler))
    app.add_route("/x", Raises(Elsewhere()))
    assert falcon.testing.TestClient(app).simulate_get("/x").status_code == 409
