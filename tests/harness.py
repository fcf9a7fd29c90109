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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ApiServer:
    """`glancelab serve` in a temporary directory, with its own config file."""

    def __init__(self, workdir: str, database_url: str | None = None, extra_conf: str = "",
                 workers: int = 2):
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.datadir = os.path.join(workdir, "images")
        self.database_url = database_url or f"sqlite:///{workdir}/glance.sqlite"
        self.config_path = os.path.join(workdir, "glance-api.conf")
        self.log_path = os.path.join(workdir, "api.log")
        self.workers = workers
        self.extra_conf = extra_conf
        self.process: subprocess.Popen | None = None

    def write_config(self) -> None:
        os.makedirs(self.workdir, exist_ok=True)
        with open(self.config_path, "w") as conf:
            conf.write(textwrap.dedent(f"""\
                [DEFAULT]
                bind_host = 127.0.0.1
                bind_port = {self.port}
                workers = {self.workers}

                [database]
                connection = {self.database_url}

                [glance_store]
                stores = file
                default_store = file
                filesystem_store_datadir = {self.datadir}
                """))
            conf.write(textwrap.dedent(self.extra_conf))

    def start(self, timeout: float = 30.0) -> "ApiServer":
        self.write_config()
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen([GLANCELAB, "--config", self.config_path, "serve"],
                                        cwd=self.workdir, stdout=log, stderr=log,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"glancelab serve exited with {self.process.returncode}; "
                                   f"log:\n{self.log()}")
            try:
                if requests.get(f"{self.url}/healthcheck", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
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


class Postgres:
    """The project's own scripts/services/postgres-up, one fresh database per use."""

    def __init__(self, state_dir: str):
        self.state_dir = state_dir
        self.port = free_port()
        self.admin_url = None

    def start(self) -> "Postgres":
        result = subprocess.run([os.path.join(ROOT, "scripts/services/postgres-up"),
                                 self.state_dir, str(self.port)], capture_output=True, text=True)
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

    def stop(self) -> None:
        subprocess.run([os.path.join(ROOT, "scripts/services/postgres-down"), self.state_dir],
                       check=False)
        shutil.rmtree(self.state_dir, ignore_errors=True)
