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


# -- the lab's Keystone ---------------------------------------------------------------------

_tokens: dict[tuple[str, str], str] = {}


class Keystone:
    """Tokens of the trainee's lab Keystone, asked from this machine: the admin's, scoped to
    the admin project or to any other project (made, with the admin as its member, when it
    does not exist yet: a check that needs a project of its own gets a fresh one)."""

    def __init__(self, variables: dict):
        self.url = variables.get("lab_os_auth_url", "")
        self.password = variables.get("lab_os_password", "")

    def token(self, project: str = "admin") -> str:
        if (self.url, project) not in _tokens:
            if project != "admin":
                self._join(project)
            _tokens[(self.url, project)] = self._login(project)
        return _tokens[(self.url, project)]

    def _login(self, project: str) -> str:
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"id": "default"}, "password": self.password}}},
            "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}
        headers, _ = self._call("POST", "/auth/tokens", body, token=None)
        return headers["X-Subject-Token"]

    def _join(self, project: str) -> None:
        admin = self.token("admin")
        _, found = self._call("GET", f"/projects?name={project}", token=admin)
        if found["projects"]:
            project_id = found["projects"][0]["id"]
        else:
            _, made = self._call("POST", "/projects", {"project": {
                "name": project, "domain_id": "default"}}, token=admin)
            project_id = made["project"]["id"]
        _, users = self._call("GET", "/users?name=admin", token=admin)
        _, roles = self._call("GET", "/roles?name=member", token=admin)
        self._call("PUT", f"/projects/{project_id}/users/{users['users'][0]['id']}/roles/"
                          f"{roles['roles'][0]['id']}", token=admin)

    def _call(self, method: str, path: str, body=None, token: str | None = None):
        import urllib.error
        import urllib.request
        request = urllib.request.Request(
            self.url + path, method=method, data=json.dumps(body).encode() if body else None,
            headers={"Content-Type": "application/json", **({"X-Auth-Token": token} if token else {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.headers, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise Hint(f"the lab's Keystone answered {exc.code} to {method} {path.split('?')[0]}",
                       f"on your machine: glancelab lab start {LAB}   (sets the lab's users up "
                       "again)") from None
        except (urllib.error.URLError, OSError):
            raise Hint(f"the lab's Keystone does not answer on {self.url}",
                       f"on your machine: glancelab lab start {LAB}   (starts it again)") from None


# -- the API on the host --------------------------------------------------------------------

class Api:
    """curl on the lab host against its own API, with a token: what a trainee would type."""

    def __init__(self, host):
        self.host = host
        self.name = name_of(host)
        self.url = f"http://{address_of(host)}:9292"
        self.keystone = Keystone(host.ansible.get_variables())

    def request(self, method: str, path: str, *curl_args: str, data: str = "",
                project: str | None = "admin") -> tuple[int, str]:
        """(status, body) as the admin in `project` (None: no token); a stopped or silent
        API is a Hint that says so."""
        if project is not None:
            curl_args = (f"-H 'X-Auth-Token: {self.keystone.token(project)}'", *curl_args)
        command = (f"curl -s -m 60 -X {method} -w '\\n%{{http_code}}' {' '.join(curl_args)} "
                   f"'{self.url}{path}'")
        if data:
            command = f"{data} | {command}"
        result = self.host.run(command)
        if result.rc in (7, 28, 52, 56):  # refused, timed out, empty reply, reset
            raise self._down()
        body, _, status = result.stdout.rpartition("\n")
        return int(status or 0), body

    def json(self, path: str, *curl_args: str, project: str = "admin"):
        status, body = self.request("GET", path, *curl_args, project=project)
        if status != 200:
            raise Hint(f"GET {path} on {self.name} answered {status}: {_message(body)}",
                       f"tail -n 20 {API_LOG}   (the API's own account of it)")
        return json.loads(body)

    def create_image(self, name: str, project: str = "admin") -> str:
        status, body = self.request(
            "POST", "/v2/images", "-H 'Content-Type: application/json'",
            f"-d '{json.dumps({'name': name, 'disk_format': 'raw', 'container_format': 'bare'})}'",
            project=project)
        expect(status == 201, f"creating an image on {self.name} answered {status}: "
                              f"{_message(body)}", f"tail -n 20 {API_LOG}")
        return json.loads(body)["id"]

    def upload(self, image_id: str, source: str, project: str = "admin",
               store: str = "") -> tuple[int, str]:
        """(status, message) of uploading `source` (a shell expression giving bytes)."""
        headers = ["-H 'Content-Type: application/octet-stream'", "--data-binary @-"]
        if store:
            headers.append(f"-H 'X-Image-Meta-Store: {store}'")
        status, body = self.request("PUT", f"/v2/images/{image_id}/file", *headers, data=source,
                                    project=project)
        return status, _message(body)

    def download_md5(self, image_id: str) -> str | None:
        result = self.host.run(f"curl -s -f -m 60 -H 'X-Auth-Token: {self.keystone.token()}' "
                               f"'{self.url}/v2/images/{image_id}/file' | md5sum")
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
    status, body = api.request("GET", "/healthcheck", project=None)
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
