"""The grader's side of the labs' checks (testinfra, run on each lab host).

A check states what should be true and, when it is not, says what is wrong, a hint where
to look, and a fix the trainee can paste on that host: `expect(condition, problem, fix,
hint=...)`. A check goes on after a failed `expect`, so every problem of one item is
reported at once; `need` is for what the rest of the check cannot do without. Everything
that can go wrong before a check gets that far (the host is down, glancelab is not
installed, the API is stopped or answers an error) is turned into the same kind of
sentence here. `@pytest.mark.step(N)` ties a check to step N of the lab's guide (`glancelab
lab check 2.N STEP` runs that step's checks). Messages are in the trainee's language
($GLANCELAB_LANG, glancelab_toolkit.i18n). Every result goes to $GLANCELAB_GRADE_REPORT as
JSON; `glancelab lab grade` prints it.
"""

from __future__ import annotations

import json
import os
import shlex

import pytest

from glancelab_toolkit.i18n import _

LAB = os.environ.get("GLANCELAB_LAB", "?")
CONF = "/etc/glance/glance-api.conf"
SERVICE = "/etc/init.d/glancelab-api"
API_LOG = "/var/log/glance/api.log"


class Hint(Exception):
    """A problem: what is wrong, a hint where to look, and a fix to paste on the host."""

    def __init__(self, problem: str, fix: str = "", hint: str = ""):
        super().__init__(problem)
        self.problem, self.fix, self.hint = problem, fix, hint

    def as_dict(self) -> dict:
        return {"problem": self.problem, "hint": self.hint, "fix": self.fix}


_found: list[Hint] = []  # the running check's problems so far


def expect(condition, problem: str, fix: str = "", hint: str = "") -> bool:
    """Note a problem when `condition` is false, and let the check go on."""
    if not condition:
        _found.append(Hint(problem, fix, hint))
    return bool(condition)


def need(condition, problem: str, fix: str = "", hint: str = "") -> bool:
    """A problem the rest of the check cannot go on with: it ends here (True otherwise,
    as `expect` returns)."""
    if not condition:
        raise Hint(problem, fix, hint)
    return True


def pytest_addoption(parser):
    parser.addoption("--step", default=None, help="only the checks of this step of the guide")


def pytest_configure(config):
    config.addinivalue_line("markers", "step(n): the step of the lab's guide a check follows")
    config.addinivalue_line("markers", "title(text): the check's name in the grade")


def pytest_collection_modifyitems(config, items):
    step = config.getoption("--step")
    if step is None:
        return
    keep = [item for item in items if str(_step_of(item)) == step]
    config.hook.pytest_deselected(items=[item for item in items if item not in keep])
    items[:] = keep


def check(title: str, step: int | None = None):
    """A check named `title` in the grade (in the trainee's language: pass it through
    _()), of step `step` of the guide (a troubleshooting lab's guide has no steps)."""
    def mark(function):
        function = pytest.mark.title(title)(function)
        return function if step is None else pytest.mark.step(step)(function)
    return mark


def _step_of(item) -> int | None:
    marker = item.get_closest_marker("step")
    return marker.args[0] if marker else None


def _title_of(item) -> str:
    marker = item.get_closest_marker("title")
    return marker.args[0] if marker else item.originalname.replace("test_", "", 1).replace("_", " ")


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
        return Hint(_("lab host {host} ({address}) does not answer SSH").format(
                        host=name_of(host), address=address_of(host)),
                    _("on your machine: glancelab lab start {number}").format(number=LAB),
                    _("a lab host stops when this machine restarts or the lab is finished"))
    if answer.stdout.strip() != "0":
        return Hint(_("glancelab is not installed on {host} ({conf} is missing): the host is "
                      "blank").format(host=name_of(host), conf=CONF),
                    _("on your machine: glancelab lab start {number}").format(number=LAB),
                    _("`glancelab lab reset` leaves blank hosts; the lab starts from `lab "
                      "start`"))
    return None


def setting(host, section: str, key: str) -> str | None:
    """The value glancelab reads for one option (the file, then glance-api.conf.d/ in name
    order), asked of glancelab itself on the host; None when the file does not parse."""
    result = host.run(f"glancelab config get {shlex.quote(section)} {shlex.quote(key)}")
    if result.rc == 2 and "no option" in result.stderr:
        return ""
    if result.rc != 0:
        raise Hint(_("glancelab cannot read {conf}: {error}").format(
                       conf=CONF, error=result.stderr.strip()[-300:]),
                   f"glancelab config check {CONF}   " + _("(then fix the line it names)"),
                   _("the error names the file and the line"))
    return result.stdout.strip()


def set_then_restart(assignment: str, section: str) -> str:
    """The fix that writes one setting: `key = value` in [section] of glance-api.conf."""
    return _("set {setting} in {section} of {file}, then {command}").format(
        setting=assignment, section=section, file=CONF, command=f"{SERVICE} restart")


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
        headers, _body = self._call("POST", "/auth/tokens", body, token=None)
        return headers["X-Subject-Token"]

    def _join(self, project: str) -> None:
        admin = self.token("admin")
        _headers, found = self._call("GET", f"/projects?name={project}", token=admin)
        if found["projects"]:
            project_id = found["projects"][0]["id"]
        else:
            _headers, made = self._call("POST", "/projects", {"project": {
                "name": project, "domain_id": "default"}}, token=admin)
            project_id = made["project"]["id"]
        _headers, users = self._call("GET", "/users?name=admin", token=admin)
        _headers, roles = self._call("GET", "/roles?name=member", token=admin)
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
            raise Hint(_("the lab's Keystone answered {status} to {request}").format(
                           status=exc.code, request=f"{method} {path.split('?')[0]}"),
                       _("on your machine: glancelab lab start {number}").format(number=LAB)
                       + "   " + _("(sets the lab's users up again)")) from None
        except (urllib.error.URLError, OSError):
            raise Hint(_("the lab's Keystone does not answer on {url}").format(url=self.url),
                       _("on your machine: glancelab lab start {number}").format(number=LAB)
                       + "   " + _("(starts it again)")) from None


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
        body, _newline, status = result.stdout.rpartition("\n")
        return int(status or 0), body

    def json(self, path: str, *curl_args: str, project: str = "admin"):
        status, body = self.request("GET", path, *curl_args, project=project)
        if status != 200:
            raise Hint(_("{request} on {host} answered {status}: {message}").format(
                           request=f"GET {path}", host=self.name, status=status,
                           message=_message(body)),
                       f"tail -n 20 {API_LOG}   " + _("(the API's own account of it)"),
                       _("the API's log says why it answered so"))
        return json.loads(body)

    def create_image(self, name: str, project: str = "admin") -> str:
        status, body = self.request(
            "POST", "/v2/images", "-H 'Content-Type: application/json'",
            f"-d '{json.dumps({'name': name, 'disk_format': 'raw', 'container_format': 'bare'})}'",
            project=project)
        need(status == 201, _("creating an image on {host} answered {status}: {message}")
             .format(host=self.name, status=status, message=_message(body)),
             f"tail -n 20 {API_LOG}", _("the API's log says why it answered so"))
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
            return Hint(_("glancelab-api is not running on {host}").format(host=self.name),
                        f"{SERVICE} start   " + _("(if it stops again: {command})").format(
                            command=f"tail -n 20 {API_LOG}"),
                        _("`{command}` says whether it runs, and why not").format(
                            command=f"{SERVICE} status"))
        return Hint(_("glancelab-api runs on {host} but does not answer on {url}").format(
                        host=self.name, url=self.url),
                    f"tail -n 20 {API_LOG}; " + _("then {command}").format(
                        command=f"{SERVICE} restart"),
                    _("the API's log says why it does not answer"))


def _message(body: str) -> str:
    """The sentence of a Glance error body, or the body's start."""
    try:
        error = json.loads(body)
        return error.get("message") or error.get("title") or body[:200]
    except (ValueError, AttributeError):
        return " ".join(body.split())[:200] or _("(empty answer)")


@pytest.fixture
def api(host):
    api = Api(host)
    status, body = api.request("GET", "/healthcheck", project=None)
    need(status == 200, _("glancelab-api on {host} is unhealthy ({status}: {message})").format(
        host=api.name, status=status, message=_message(body)), f"tail -n 20 {API_LOG}",
         _("/healthcheck names what it misses: the database, a store"))
    return api


# -- shared checks ---------------------------------------------------------------------------

def expect_a_directory_of_glance(host, path: str, made_where: str, missing: str = "",
                                 stop: bool = True) -> bool:
    """`path` is a directory of the service's user, closed to others (0750); `made_where`
    is the hint when it does not exist, `missing` what is said then (default: that `path`
    does not exist). A missing directory stops the check, or with `stop=False` is one
    problem among others (the caller goes on to its next directory). True if it exists."""
    directory = host.file(path)
    report = need if stop else expect
    if not report(directory.is_directory,
                  missing or _("{path} does not exist").format(path=path),
                  f"mkdir -p {path} && chown glance:glance {path} && chmod 0750 {path}",
                  made_where):
        return False
    expect((directory.user, directory.group, directory.mode) == ("glance", "glance", 0o750),
           _("{path} is {owner} mode {mode}").format(
               path=path, owner=f"{directory.user}:{directory.group}",
               mode=f"{oct(directory.mode)[2:]:0>4}"),
           f"chown glance:glance {path} && chmod 0750 {path}",
           _("the API runs as glance: it must own the directory, closed to others "
             "(`ls -ld {path}`)").format(path=path))
    return True


def expect_the_store_directory_read(host, path: str, hint: str) -> None:
    """glancelab's filesystem_store_datadir, as it reads it (every file of its
    configuration), is `path`."""
    value = setting(host, "glance_store", "filesystem_store_datadir")
    expect(normalized(value) == path,
           _("filesystem_store_datadir is {value} as glancelab reads it (the file, then "
             "glance-api.conf.d/ in name order, the last one wins)").format(
               value=value or _("unset")),
           set_then_restart(f"filesystem_store_datadir = {path}", "[glance_store]"), hint)


CACHE_DIR = "/var/lib/glance/image-cache"


def expect_the_cache_directory_read(host) -> None:
    """glancelab reads image_cache_dir where it counts: [DEFAULT]."""
    value = setting(host, "DEFAULT", "image_cache_dir")
    expect(normalized(value) == CACHE_DIR,
           _("image_cache_dir is {value}: the cache is off").format(value=value or _("unset")),
           set_then_restart(f"image_cache_dir = {CACHE_DIR}", "[DEFAULT]"),
           _("the cache is on when [DEFAULT] names its directory; `glancelab config get "
             "DEFAULT image_cache_dir` shows what counts"))


def expect_the_second_download_from_the_cache(api, name: str) -> None:
    """A fresh image downloaded twice: cached by the first download, served by the cache
    the second time (hits = 1)."""
    import time
    image_id = api.create_image(name)
    try:
        status, message = api.upload(image_id, "head -c 1048576 /dev/urandom")
        need(status == 204, _("uploading a test image answered {status}: {message}").format(
                 status=status, message=message), f"tail -n 20 {API_LOG}",
             _("the API's log says why it answered so"))
        first = api.download_md5(image_id)
        need(first is not None, _("the test image does not download"), f"tail -n 20 {API_LOG}",
             _("the API's log says why it answered so"))
        cached = []
        for _attempt in range(50):
            status, body = api.request("GET", "/v2/cache")
            need(status == 200, _("GET /v2/cache answered {status}: the running API has no "
                                  "cache").format(status=status),
                 set_then_restart(f"image_cache_dir = {CACHE_DIR}", "[DEFAULT]"),
                 _("the cache is on when [DEFAULT] names its directory; `glancelab config "
                   "get DEFAULT image_cache_dir` shows what counts"))
            cached = json.loads(body)["cached_images"]
            if any(c["image_id"] == image_id for c in cached):
                break
            time.sleep(0.1)
        entry = next((c for c in cached if c["image_id"] == image_id), None)
        need(entry is not None, _("a downloaded image was not cached: the running API has no "
                                  "cache, or cannot write to it"),
             f"chown glance:glance {CACHE_DIR} && chmod 0750 {CACHE_DIR}; {SERVICE} restart",
             _("the API's log names a cache it cannot write"))
        expect(api.download_md5(image_id) == first, _("the cached copy differs from the image"),
               f"glancelab cache delete {image_id}",
               _("a damaged cache file is dropped; `glancelab cache list` shows the copies"))
        entry = next(c for c in api.json("/v2/cache")["cached_images"]
                     if c["image_id"] == image_id)
        expect(entry["hits"] == 1, _("hits = {hits}: the second download did not use the "
                                     "cache").format(hits=entry["hits"]), f"{SERVICE} restart",
               _("`curl -s $OS_ENDPOINT/v2/cache` shows each copy's hits"))
    finally:
        api.delete(image_id)


def expect_downloads_byte_exact(api, name: str, data: bytes) -> None:
    """An image that existed before the fault: still there, its bytes unchanged."""
    import hashlib
    image = api.find_image(name)
    need(image is not None, _("the image {name} is gone (deleted, or the database "
                              "replaced)").format(name=name),
         _("on your machine: glancelab lab start {number}").format(number=LAB),
         _("`glance image-list` shows the images the API knows"))
    expect(api.download_md5(image["id"]) == hashlib.md5(data).hexdigest(),
           _("{name} does not download, or its bytes changed").format(name=name),
           f"tail -n 20 {API_LOG}",
           _("the data of an image is its own: a fix must not lose or rewrite it"))


# -- the report ------------------------------------------------------------------------------

_results: list[dict] = []


@pytest.fixture(autouse=True)
def _a_fresh_list_of_problems():
    _found.clear()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.glancelab_title = _title_of(item)
    if call.when != "call" and not (call.excinfo is not None and report.failed):
        return
    problems = list(_found) if call.when == "call" else []
    # (a skipped check is no failure: only an error that failed the report counts)
    error = call.excinfo.value if call.excinfo is not None and report.failed else None
    if isinstance(error, Hint):
        problems.append(error)
    elif error is not None and not problems:
        if isinstance(error, AssertionError):
            problems.append(Hint(str(error).split("\nassert")[0] or _("a check failed")))
        else:  # a bug of the grader, never the trainee's: say so, and where the details are
            problems.append(Hint(
                _("the grader could not check this ({error})").format(
                    error=f"{type(error).__name__}: {str(error)[:200]}"),
                _("tell your trainer; details in {log}").format(
                    log=os.environ.get("GLANCELAB_GRADE_LOG", "checks.log"))))
    # (an error after a noted problem follows from it: the problem is the story)
    if problems:
        report.outcome = "failed"
        report.glancelab = [problem.as_dict() for problem in problems]


def pytest_runtest_logreport(report):
    if report.when == "call" or report.failed:
        if any(r["nodeid"] == report.nodeid for r in _results):
            return
        host = report.nodeid.split("::")[-1].partition("[")[2]
        host = host.rstrip("]").replace("ansible://", "")
        problems = getattr(report, "glancelab", [])
        if report.failed and not problems:
            problems = [Hint(_("the check failed")).as_dict()]
        _results.append({"nodeid": report.nodeid,
                         "check": getattr(report, "glancelab_title", report.nodeid),
                         "host": host, "passed": not report.failed, "problems": problems,
                         "seconds": round(report.duration, 2)})


def pytest_sessionfinish(session):
    path = os.environ.get("GLANCELAB_GRADE_REPORT")
    if path:
        with open(path, "w") as handle:
            json.dump([{k: v for k, v in r.items() if k != "nodeid"} for r in _results], handle,
                      indent=2)
