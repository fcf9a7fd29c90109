"""The grader's side of the labs' checks (testinfra, run on each lab host).

A check states what should be true and, when it is not, says what is wrong and a fix
the trainee can paste on that host: `expect(condition, problem, fix)`. Everything that
can go wrong before a check gets that far (the host is down, glancelab is not installed,
the API is stopped or answers an error) is turned into the same kind of sentence here.
Every result goes to $GLANCELAB_GRADE_REPORT as JSON; `glancelab lab grade` prints it.
"""

from __future__ import annotations

import json
import os
import shlex

import pytest

LAB = os.environ.get("GLANCELAB_LAB", "?")
CONF = "/etc/glance/glance-api.conf"
SERVICE = "/etc/init.d/glancelab-api"
API_LOG = "/var/log/glance/api.log"


class Hint(Exception):
    """A failed check: what is wrong, and a fix to paste on the host."""

    def __init__(self, problem: str, fix: str = ""):
        super().__init__(problem)
        self.problem, self.fix = problem, fix


def expect(condition, problem: str, fix: str = "") -> None:
    if not condition:
        raise Hint(problem, fix)


def name_of(host) -> str:
    return host.backend.get_hostname()


def address_of(host) -> str:
    return host.ansible.get_variables()["ansible_host"]


# -- preconditions: each host answers and has the API installed -------------------------------

_reachable: dict[str, Hint | None] = {}


@pytest.fixture(autouse=True)
def lab_host(request):
    """Every check first needs its host up and glancelab installed there."""
    if "host" not in request.fixturenames:
        return
    host = request.getfixturevalue("host")
    name = name_of(host)
    if name not in _reachable:
        _reachable[name] = _precondition(host)
    if _reachable[name] is not None:
        raise _reachable[name]


def _precondition(host) -> Hint | None:
    try:
        answer = host.run(f"test -f {CONF}; echo $?")
    except Exception:  # testinfra's backends raise RuntimeError and others when SSH fails
        return Hint(f"lab host {name_of(host)} ({address_of(host)}) does not answer SSH",
                    f"on your machine: glancelab lab start {LAB}")
    if answer.stdout.strip() != "0":
        return Hint(f"glancelab is not installed on {name_of(host)} ({CONF} is missing): the "
                    "host is blank", f"on your machine: glancelab lab start {LAB}")
    return None


def setting(host, section: str, key: str) -> str | None:
    """The value glancelab reads for one option (the file, then glance-api.conf.d/ in name
    order), asked of glancelab itself on the host; None when the file does not parse."""
    result = host.run(f"glancelab config get {shlex.quote(section)} {shlex.quote(key)}")
    if result.rc == 2 and "no option" in result.stderr:
        return ""
    if result.rc != 0:
        raise Hint(f"glancelab cannot read {CONF}: {result.stderr.strip()[-300:]}",
                   f"glancelab config check {CONF}   (then fix the line it names)")
    return result.stdout.strip()


def normalized(path: str | None) -> str:
    return os.path.normpath(path) if path else ""


# -- the API on the host --------------------------------------------------------------------

class Api:
    """curl on the lab host against its own API: what a trainee would type."""

    def __init__(self, host):
        self.host = host
        self.name = name_of(host)
        self.url = f"http://{address_of(host)}:9292"

    def request(self, method: str, path: str, *curl_args: str, data: str = "") -> tuple[int, str]:
        """(status, body); a stopped or silent API is a Hint that says so."""
        command = (f"curl -s -m 60 -X {method} -w '\\n%{{http_code}}' {' '.join(curl_args)} "
                   f"'{self.url}{path}'")
        if data:
            command = f"{data} | {command}"
        result = self.host.run(command)
        if result.rc in (7, 28, 52, 56):  # refused, timed out, empty reply, reset
            raise self._down()
        body, _, status = result.stdout.rpartition("\n")
        return int(status or 0), body

    def json(self, path: str, *curl_args: str):
        status, body = self.request("GET", path, *curl_args)
        if status != 200:
            raise Hint(f"GET {path} on {self.name} answered {status}: {_message(body)}",
                       f"tail -n 20 {API_LOG}   (the API's own account of it)")
        return json.loads(body)

    def create_image(self, name: str, project: str = "admin") -> str:
        status, body = self.request(
            "POST", "/v2/images", "-H 'Content-Type: application/json'",
            f"-H 'X-Project-Id: {project}'", "-H 'X-Roles: member,reader'",
            f"-d '{json.dumps({'name': name, 'disk_format': 'raw', 'container_format': 'bare'})}'")
        expect(status == 201, f"creating an image on {self.name} answered {status}: "
                              f"{_message(body)}", f"tail -n 20 {API_LOG}")
        return json.loads(body)["id"]

    def upload(self, image_id: str, source: str, project: str = "admin",
               store: str = "") -> tuple[int, str]:
        """(status, message) of uploading `source` (a shell expression giving bytes)."""
        headers = [f"-H 'X-Project-Id: {project}'", "-H 'X-Roles: member,reader'",
                   "-H 'Content-Type: application/octet-stream'", "--data-binary @-"]
        if store:
            headers.append(f"-H 'X-Image-Meta-Store: {store}'")
        status, body = self.request("PUT", f"/v2/images/{image_id}/file", *headers, data=source)
        return status, _message(body)

    def download_md5(self, image_id: str) -> str | None:
        result = self.host.run(f"curl -s -f -m 60 '{self.url}/v2/images/{image_id}/file' | md5sum")
        return result.stdout[:32] if result.rc == 0 else None

    def delete(self, image_id: str) -> int:
        return self.request("DELETE", f"/v2/images/{image_id}")[0]

    def find_image(self, name: str) -> dict | None:
        images = self.json(f"/v2/images?name={name}")["images"]
        return images[0] if images else None

    def _down(self) -> Hint:
        running = self.host.run(f"{SERVICE} status").rc == 0
        if not running:
            return Hint(f"glancelab-api is not running on {self.name}",
                        f"{SERVICE} start   (if it stops again: tail -n 20 {API_LOG})")
        return Hint(f"glancelab-api runs on {self.name} but does not answer on {self.url}",
                    f"tail -n 20 {API_LOG}; then {SERVICE} restart")


def _message(body: str) -> str:
    """The sentence of a Glance error body, or the body's start."""
    try:
        error = json.loads(body)
        return error.get("message") or error.get("title") or body[:200]
    except (ValueError, AttributeError):
        return " ".join(body.split())[:200] or "(empty answer)"


@pytest.fixture
def api(host):
    api = Api(host)
    status, body = api.request("GET", "/healthcheck")
    expect(status == 200, f"glancelab-api on {api.name} is unhealthy ({status}: {_message(body)})",
           f"tail -n 20 {API_LOG}")
    return api


# -- the report ------------------------------------------------------------------------------

_results: list[dict] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is not None and report.failed:
        error = call.excinfo.value
        if isinstance(error, Hint):
            report.glancelab = (error.problem, error.fix)
        elif isinstance(error, AssertionError):
            report.glancelab = (str(error).split("\nassert")[0] or "a check failed", "")
        else:  # a bug of the grader, never the trainee's: say so, and where the details are
            report.glancelab = (f"the grader could not check this ({type(error).__name__}: "
                                f"{str(error)[:200]})",
                                f"tell your trainer; details in {os.environ.get('GLANCELAB_GRADE_LOG', 'the log')}")


def pytest_runtest_logreport(report):
    if report.when == "call" or report.failed:
        if any(r["nodeid"] == report.nodeid for r in _results):
            return
        check, _, host = report.nodeid.split("::")[-1].partition("[")
        host = host.rstrip("]").replace("ansible://", "")
        problem, fix = getattr(report, "glancelab", ("", ""))
        if report.failed and not problem:
            problem = "the check failed"
        _results.append({"nodeid": report.nodeid,
                         "check": check.replace("test_", "", 1).replace("_", " "),
                         "host": host, "passed": not report.failed, "problem": problem,
                         "fix": fix, "seconds": round(report.duration, 2)})


def pytest_sessionfinish(session):
    path = os.environ.get("GLANCELAB_GRADE_REPORT")
    if path:
        with open(path, "w") as handle:
            json.dump([{k: v for k, v in r.items() if k != "nodeid"} for r in _results], handle,
                      indent=2)
