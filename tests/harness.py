"""Real processes for tests: a glancelab API server and a PostgreSQL, on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GLANCELAB = os.path.join(os.path.dirname(sys.executable), "glancelab")


def wait_until_answers(url: str, timeout: float = 10.0) -> None:
    """Return once something answers HTTP at `url` (any status)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# What a 500 or a crash leaves in a server's log: the session fails on any of them
# (tests/conftest.py), since no request should ever get a 500.
UNEXPECTED_IN_LOG = ('"unhandled error"', "Error handling request", "Exception in worker process")
UNEXPECTED_SEEN: list[str] = []


def raw_disk(size: int) -> bytes:
    """Random bytes that are a raw disk and nothing else: random data ends in the MBR
    signature 0x55AA at byte 510 once in 65,536 draws, and a load test that uploads
    thousands of images would then see one refused by format inspection."""
    data = bytearray(os.urandom(size))
    if size > 511:
        data[510] = 0
    return bytes(data)


class ApiServer:
    """`glancelab serve` in a temporary directory, with its own config file."""

    def __init__(self, workdir: str, database_url: str | None = None, extra_conf: str = "",
                 workers: int = 2, port: int | None = None, obey_file_modes: bool = False,
                 bind_host: str = "127.0.0.1", release_dir: str | None = None):
        self.workdir = workdir
        # another release's api/ directory to run instead of this checkout's (upgrades)
        self.release_dir = release_dir
        self.port = port or free_port()
        self.bind_host = bind_host
        self.url = (f"http://[{bind_host}]:{self.port}" if ":" in bind_host
                    else f"http://{bind_host}:{self.port}")
        self.datadir = os.path.join(workdir, "images")
        self.database_url = database_url or f"sqlite:///{workdir}/glance.sqlite"
        self.config_path = os.path.join(workdir, "glance-api.conf")
        self.log_path = os.path.join(workdir, "api.log")
        self.workers = workers
        self.extra_conf = extra_conf
        self.base_store_conf = True
        # The suite runs as root, who reads and writes whatever the modes say; without
        # these capabilities root meets a file's mode as the glance user would.
        self.prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"] \
            if obey_file_modes else []
        self.process: subprocess.Popen | None = None
        self.keystone: "Keystone | None" = None  # set when it runs auth_strategy = keystone

    def write_config(self) -> None:
        os.makedirs(self.workdir, exist_ok=True)
        with open(self.config_path, "w") as conf:
            conf.write(textwrap.dedent(f"""\
                [DEFAULT]
                bind_host = {self.bind_host}
                bind_port = {self.port}
                workers = {self.workers}

                [database]
                connection = {self.database_url}
                """))
            if self.base_store_conf:
                conf.write(textwrap.dedent(f"""
                    [glance_store]
                    stores = file,http
                    default_store = file
                    filesystem_store_datadir = {self.datadir}
                    """))
            # No key needs leading spaces, and configparser would read them as continuations.
            conf.write("\n".join(line.strip() for line in self.extra_conf.splitlines()) + "\n")

    def start(self, timeout: float = 30.0) -> "ApiServer":
        self.write_config()
        log = open(self.log_path, "ab")
        program, env = [GLANCELAB], None
        if self.release_dir:
            program = [sys.executable, "-c", "import sys; from glancelab.cli import main; "
                                             "sys.exit(main())"]
            env = {**os.environ, "PYTHONPATH": self.release_dir}
        self.process = subprocess.Popen([*self.prefix, *program, "--config", self.config_path,
                                         "serve"],
                                        cwd=self.workdir, stdout=log, stderr=log, env=env,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"glancelab serve exited with {self.process.returncode}; "
                                   f"log:\n{self.log()}")
            try:
                if requests.get(f"{self.url}/healthcheck", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:  # not up yet, or too busy to answer in time
                pass
            time.sleep(0.1)
        raise RuntimeError(f"glancelab serve did not answer in {timeout}s; log:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
        self._note_unexpected()

    def _note_unexpected(self) -> None:
        """Keep each line of the log, read since the last stop, that shows a 500."""
        try:
            with open(self.log_path, errors="replace") as handle:
                handle.seek(getattr(self, "_log_scanned", 0))
                lines = handle.readlines()
                self._log_scanned = handle.tell()
        except FileNotFoundError:
            return
        UNEXPECTED_SEEN.extend(f"{self.log_path}: {line.strip()[:600]}" for line in lines
                               if any(mark in line for mark in UNEXPECTED_IN_LOG))

    def worker_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True,
                             text=True).stdout
        return [int(pid) for pid in out.split()]

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as handle:
                return handle.read()[-5000:]
        except FileNotFoundError:
            return ""


class Haproxy:
    """The project's scripts/services/haproxy-up in front of API servers."""

    def __init__(self, state_dir: str, nodes: list["ApiServer"], check_inter_ms: int = 200,
                 fall: int = 2, rise: int = 1):
        self.state_dir = state_dir
        self.port = free_port()
        self.nodes = nodes
        self.environ = {"HAPROXY_CHECK_INTER": str(check_inter_ms), "HAPROXY_FALL": str(fall),
                        "HAPROXY_RISE": str(rise)}
        self.check_seconds = check_inter_ms / 1000
        self.fall, self.rise = fall, rise
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> "Haproxy":
        targets = [node.url.split("//", 1)[1] for node in self.nodes]
        result = subprocess.run([os.path.join(ROOT, "scripts/services/haproxy-up"),
                                 self.state_dir, str(self.port), *targets],
                                capture_output=True, text=True, env={**os.environ, **self.environ})
        if result.returncode:
            raise RuntimeError(f"haproxy-up failed:\n{result.stdout}{result.stderr}")
        return self

    def set_state(self, node_index: int, state: str) -> None:
        """ready, drain or maint, through the admin socket (as an operator takes a node
        without a drain file of its own out of rotation)."""
        self._admin(f"set server glance_api_nodes/node{node_index + 1} state {state}")

    def _admin(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(os.path.join(self.state_dir, "admin.sock"))
            sock.sendall(command.encode() + b"\n")
            raw = b""
            while chunk := sock.recv(65536):
                raw += chunk
        return raw.decode()

    def statuses(self) -> dict[str, str]:
        """Each node's state as HAProxy sees it (UP, DOWN, ...), by its position: node1..."""
        rows = [line.split(",") for line in self._admin("show stat").splitlines()
                if line and line[0] != "#"]
        return {row[1]: row[17] for row in rows if row[1].startswith("node")}

    def wait_for(self, node_index: int, state: str, timeout: float = 15) -> None:
        name = f"node{node_index + 1}"
        deadline = time.monotonic() + timeout
        while self.statuses().get(name, "").split(" ")[0] != state:
            if time.monotonic() > deadline:
                raise AssertionError(f"HAProxy did not see {name} {state}: {self.statuses()}")
            time.sleep(0.05)

    def stop(self) -> None:
        subprocess.run([os.path.join(ROOT, "scripts/services/haproxy-down"), self.state_dir],
                       check=False)


class Postgres:
    """The project's own scripts/services/postgres-up, one fresh database per use."""

    def __init__(self, state_dir: str, max_connections: int = 200):
        self.state_dir = state_dir
        self.port = free_port()
        self.admin_url = None
        self.max_connections = max_connections

    def start(self) -> "Postgres":
        result = subprocess.run([os.path.join(ROOT, "scripts/services/postgres-up"),
                                 self.state_dir, str(self.port)], capture_output=True, text=True,
                                env={**os.environ,
                                     "POSTGRES_MAX_CONNECTIONS": str(self.max_connections)})
        if result.returncode:
            raise RuntimeError(f"postgres-up failed:\n{result.stdout}{result.stderr}")
        out = result.stdout
        self.admin_url = out.strip().split("DATABASE_URL=", 1)[1]
        return self

    def new_database(self) -> str:
        import psycopg2
        name = f"glancelab_{uuid.uuid4().hex[:10]}"
        conn = psycopg2.connect(self.admin_url)
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {name} OWNER glancelab")
        conn.close()
        return self.admin_url.rsplit("/", 1)[0] + f"/{name}"

    def halt(self) -> None:
        """Stop the server and keep its data (start() brings it back on the same port)."""
        subprocess.run([os.path.join(ROOT, "scripts/services/postgres-down"), self.state_dir],
                       check=True)

    def connections(self, user: str = "glancelab") -> int:
        """Connections `user` holds right now."""
        import psycopg2
        conn = psycopg2.connect(self.admin_url.replace("glancelab:glancelab@",
                                                       "postgres@"))
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s",
                               (user,))
                return cursor.fetchone()[0]
        finally:
            conn.close()

    def stop(self) -> None:
        subprocess.run([os.path.join(ROOT, "scripts/services/postgres-down"), self.state_dir],
                       check=False)
        shutil.rmtree(self.state_dir, ignore_errors=True)


class Service:
    """A server started by one of the project's scripts/services/*-up scripts."""

    def __init__(self, name: str, state_dir: str, port: int | None = None,
                 environ: dict[str, str] | None = None):
        self.name = name
        self.state_dir = state_dir
        self.port = port or free_port()
        self.environ = environ or {}
        self.env: dict[str, str] = {}

    def start(self) -> "Service":
        result = subprocess.run([os.path.join(ROOT, f"scripts/services/{self.name}-up"),
                                 self.state_dir, str(self.port)], capture_output=True, text=True,
                                env={**os.environ, **self.environ})
        if result.returncode:
            raise RuntimeError(f"{self.name}-up failed:\n{result.stdout}{result.stderr}")
        for assignment in result.stdout.split("export", 1)[1].split():
            key, _, value = assignment.partition("=")
            self.env[key] = value
        return self

    def stop(self) -> None:
        subprocess.run([os.path.join(ROOT, f"scripts/services/{self.name}-down"), self.state_dir],
                       check=False)

    def store_section(self, section: str, container: str, **extra: str) -> str:
        """A glance-api.conf backend section that uses this server (s3, swift or ceph)."""
        if self.name == "ceph":  # container: the pool
            options = {"rbd_store_ceph_conf": self.env["RBD_STORE_CEPH_CONF"],
                       "rbd_store_user": self.env["RBD_STORE_USER"], "rbd_store_pool": container}
        elif self.name == "s3":
            options = {"s3_store_host": self.env["S3_ENDPOINT"],
                       "s3_store_access_key": self.env["S3_ACCESS_KEY"],
                       "s3_store_secret_key": self.env["S3_SECRET_KEY"],
                       "s3_store_bucket": container, "s3_store_create_bucket_on_put": "true"}
        else:
            options = {"swift_store_auth_address": self.env["SWIFT_AUTH_URL"],
                       "swift_store_user": self.env["SWIFT_USER"],
                       "swift_store_key": self.env["SWIFT_KEY"],
                       "swift_store_auth_version": "1",  # tempauth
                       "swift_store_container": container,
                       "swift_store_create_container_on_put": "true"}
        options.update(extra)
        return "\n".join([f"[{section}]"] + [f"{k} = {v}" for k, v in options.items()]) + "\n"


def free_port_block(count: int) -> int:
    """A first port whose next count-1 ports are free too (services that use several)."""
    for _ in range(50):
        first = free_port()
        sockets = []
        try:
            for offset in range(count):
                sock = socket.socket()
                sock.bind(("127.0.0.1", first + offset))
                sockets.append(sock)
            return first
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no block of free ports")


class FaultyProxy:
    """A TCP relay on 127.0.0.1 to a real server that can break big requests.

    With fail_requests_over set, a connection that sends more than that many bytes
    upstream is reset in mid-stream (a backend failing during an upload); small
    requests (deletes, aborts) still pass, so clean-up can be checked. With
    down_after_failure too, that reset starts an outage: every connection is reset until
    `down` is set back to False.
    """

    def __init__(self, target_port: int):
        import threading
        self.target_port = target_port
        self.fail_requests_over: int | None = None
        self.down_after_failure = False
        self.down = False
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(64)
        self.port = self._server.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import threading
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if self.down:
                self._reset(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            sent = [0]
            threading.Thread(target=self._pump, args=(client, upstream, sent, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, sent, False), daemon=True).start()

    def _pump(self, source, target, sent, upstream_direction: bool) -> None:
        try:
            while data := source.recv(65536):
                if upstream_direction:
                    sent[0] += len(data)
                    limit = self.fail_requests_over
                    if limit is not None and sent[0] > limit or self.down:
                        self.down = self.down or self.down_after_failure
                        for sock in (source, target):
                            self._reset(sock)
                        return
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    @staticmethod
    def _reset(sock) -> None:
        """Close with a reset, not a clean end: what a failing server's peer sees."""
        import struct
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()

    def close(self) -> None:
        self._closed = True
        self._server.close()


class StaticHttpServer:
    """Serves files from a directory on 127.0.0.1 with single byte ranges (RFC 7233).

    Also /redirect?to=URL (a 302 to URL), /stall/NAME (the headers and half of NAME,
    then nothing until stop), /trickle/NAME (NAME a byte every 0.2 s) and /auth/NAME (NAME
    only with Basic auth `glance:s3cret`); it records every path it was asked for in
    `hits` and every Authorization header in `authorizations`.
    """

    def __init__(self, directory: str):
        import functools
        import http.server
        import re
        import threading
        import urllib.parse

        hits: list[str] = []
        authorizations: list[str | None] = []
        stopping = threading.Event()

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_HEAD(self):
                hits.append(self.path)
                super().do_HEAD()

            def do_GET(self):
                hits.append(self.path)
                authorizations.append(self.headers.get("Authorization"))
                if self.path.startswith("/auth/"):
                    import base64
                    if self.headers.get("Authorization") != \
                            "Basic " + base64.b64encode(b"glance:s3cret").decode():
                        self.send_error(401)
                        return
                    self.path = self.path[len("/auth"):]
                if self.path.startswith("/trickle/"):
                    self.send_response(200)
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    while not stopping.wait(0.2):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                    return
                if self.path.startswith("/redirect?"):
                    target = urllib.parse.parse_qs(self.path.split("?", 1)[1])["to"][0]
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                stall = self.path.startswith("/stall/")
                path = self.translate_path(self.path[len("/stall"):] if stall else self.path)
                if not os.path.isfile(path):
                    self.send_error(404)
                    return
                size = os.path.getsize(path)
                first, last, status = 0, size - 1, 200
                match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
                if match:
                    first = int(match.group(1))
                    last = min(int(match.group(2) or size - 1), size - 1)
                    status = 206
                self.send_response(status)
                self.send_header("Content-Length", str(last - first + 1))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
                self.end_headers()
                with open(path, "rb") as handle:
                    handle.seek(first)
                    if stall:
                        self.wfile.write(handle.read(size // 2))
                        self.wfile.flush()
                        stopping.wait(120)
                        return
                    left = last - first + 1
                    while left > 0 and (chunk := handle.read(min(left, 1 << 20))):
                        self.wfile.write(chunk)  # streamed: benchmarks serve 1 GiB files
                        left -= len(chunk)

        handler = functools.partial(Handler, directory=directory)
        self.hits = hits
        self.authorizations = authorizations
        self._stopping = stopping
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda *args: None  # clients hang up after the headers
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()
        self.server.shutdown()
        self.server.server_close()


class Keystone(Service):
    """The project's scripts/services/keystone-up: tokens for the lab users, and the image
    service's endpoint pointing at the API port reserved for the keystone-mode server."""

    def __init__(self, state_dir: str):
        self.glance_port = free_port()
        super().__init__("keystone", state_dir,
                         environ={"GLANCE_URL": f"http://127.0.0.1:{self.glance_port}"})
        self._logins: dict[tuple[str, str | None], tuple[str, str, float]] = {}

    @property
    def url(self) -> str:
        return self.env["KEYSTONE_URL"]

    def session(self, user: str, project: str | None = None):
        """A keystoneauth1 session of a lab user (password = user name)."""
        from keystoneauth1 import session
        from keystoneauth1.identity import v3
        project = project or {"admin": "admin", "glance": "service"}.get(user, "demo")
        return session.Session(auth=v3.Password(
            auth_url=self.env["OS_AUTH_URL"], username=user, password=user,
            user_domain_name="Default", project_name=project, project_domain_name="Default"))

    def token(self, user: str, project: str | None = None) -> str:
        return self.session(user, project).get_token()

    def project_id(self, user: str, project: str | None = None) -> str:
        return self.session(user, project).get_project_id()

    def login(self, user: str, project: str | None = None) -> tuple[str, str]:
        """(token, project id) of a lab user, from one login kept for 30 minutes (tokens
        live an hour): the keystone-mode API suite asks for them in every test."""
        key = (user, project)
        known = self._logins.get(key)
        if known is None or time.monotonic() - known[2] > 1800:
            session = self.session(user, project)
            known = self._logins[key] = (session.get_token(), session.get_project_id(),
                                         time.monotonic())
        return known[0], known[1]

    def member_of(self, project: str, roles: str = "member,reader") -> tuple[str, str]:
        """A token of a user holding `roles` on `project` (both made on first use), and the
        project's id: how the keystone-mode API suite gets its alice, bob and readers."""
        user = f"{project}--{roles.replace(',', '-')}"
        if (user, project) not in self._logins:
            self._make_member(project, user, roles)
        return self.login(user, project)

    def _make_member(self, project: str, user: str, roles: str) -> None:
        admin = self.session("admin")
        project_id = self._find_or_make(admin, "projects", {"name": project,
                                                            "domain_id": "default"})
        user_id = self._find_or_make(admin, "users", {"name": user, "password": user,
                                                      "domain_id": "default"})
        for role in roles.split(","):
            role_id = self._find_or_make(admin, "roles", {"name": role})
            admin.put(f"{self.url}/v3/projects/{project_id}/users/{user_id}/roles/{role_id}")

    def _find_or_make(self, admin, kind: str, fields: dict) -> str:
        found = admin.get(f"{self.url}/v3/{kind}", params={"name": fields["name"]}).json()
        if found[kind]:
            return found[kind][0]["id"]
        singular = kind[:-1]
        return admin.post(f"{self.url}/v3/{kind}", json={singular: fields}).json()[singular]["id"]

    def oslo_limit_section(self) -> str:
        """[oslo_limit] for use_keystone_limits, as Glance's guide writes it: the glance
        user, system-scoped, reading the limits of the image endpoint."""
        return f"""
            [oslo_limit]
            auth_url = {self.url}
            auth_type = password
            user_domain_id = default
            username = glance
            password = glance
            system_scope = all
            endpoint_id = {self.env['KEYSTONE_IMAGE_ENDPOINT_ID']}
            region_name = RegionOne
            """

    def authtoken_section(self) -> str:
        """[keystone_authtoken] as Glance's install guide writes it."""
        return f"""
            [keystone_authtoken]
            www_authenticate_uri = {self.url}
            auth_url = {self.url}
            auth_type = password
            project_domain_name = Default
            user_domain_name = Default
            project_name = service
            username = glance
            password = glance
            """


# Keystone's registered limits of the image service the suites that set use_keystone_limits
# share (registered once a session: Keystone refuses to change one that projects use).
LIMIT_DEFAULTS = {"image_size_total": 1000, "image_stage_total": 1000,
                  "image_count_total": 100, "image_count_uploading": 100}


class Limits:
    """Keystone's registered and project limits of the image service, set as the admin."""

    def __init__(self, keystone):
        self.keystone = keystone
        self.admin = keystone.session("admin")
        self.url = keystone.env["OS_AUTH_URL"]
        endpoint = self.admin.get(
            f"{self.url}/endpoints/{keystone.env['KEYSTONE_IMAGE_ENDPOINT_ID']}").json()
        self.service_id = endpoint["endpoint"]["service_id"]

    def register(self, resource: str, default: int) -> None:
        found = self.admin.get(f"{self.url}/registered_limits", params={
            "service_id": self.service_id, "resource_name": resource}).json()["registered_limits"]
        if found and found[0]["default_limit"] == default:
            return
        if found:  # Keystone refuses this once a project has a limit of it
            self.admin.patch(f"{self.url}/registered_limits/{found[0]['id']}",
                             json={"registered_limit": {"default_limit": default}})
        else:
            self.admin.post(f"{self.url}/registered_limits", json={"registered_limits": [{
                "service_id": self.service_id, "region_id": "RegionOne",
                "resource_name": resource, "default_limit": default}]})

    def set_project(self, project_id: str, resource: str, value: int) -> None:
        """As a trainee does it: openstack limit create (or set, the second time)."""
        env = {**os.environ, **{k: v for k, v in self.keystone.env.items()
                                if k.startswith("OS_")}}
        found = self.admin.get(f"{self.url}/limits", params={
            "service_id": self.service_id, "project_id": project_id,
            "resource_name": resource}).json()["limits"]
        if found:
            command = ["limit", "set", "--resource-limit", str(value), found[0]["id"]]
        else:
            command = ["limit", "create", "--project", project_id, "--service", "image",
                       "--region", "RegionOne", "--resource-limit", str(value), resource]
        done = subprocess.run([os.path.join(os.path.dirname(sys.executable), "openstack"),
                               *command, "-f", "json"],
                              capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
