"""glancelab beside real Glance 33, in one run on this machine: prints figures, asserts nothing.

Glance 33 comes from PyPI into .venv-glance (scripts/install-glance, the first time) and
runs under gunicorn (one worker, 8 threads, its paste pipeline without auth, image caching
on, as glancelab: one worker, noauth, the same file store and cache settings), both on
127.0.0.1 and SQLite. The same requests go to both, from the same client code:

- create (POST /v2/images), GET one image and a 200-image page (1 client and 8 threads),
  delete; upload, first and cached download of --size-mib;
- the first page of GET /v2/images at growing catalogue sizes (--scale), each catalogue
  made through the API; a side stops growing when making it would take longer than
  --scale-budget seconds, and says so.

Each figure is printed with glancelab's ratio to Glance (higher is better for glancelab,
except for latencies, where it is Glance's time over glancelab's).

Usage: .venv/bin/python bench/vs_glance.py [--seconds 5] [--size-mib 256]
       [--scale 1000,10000,100000] [--scale-budget 300]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
from harness import ApiServer, free_port  # noqa: E402

GLANCE_VENV = os.path.join(ROOT, ".venv-glance")
JSON = {"Content-Type": "application/json", "Accept": "application/json"}


class GlanceServer:
    """Real Glance 33: glance-api.conf and its paste file in a config dir of its own."""

    def __init__(self, workdir: str):
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> "GlanceServer":
        etc = os.path.join(self.workdir, "etc")
        os.makedirs(etc, exist_ok=True)
        shutil.copy(os.path.join(GLANCE_VENV, "etc", "glance", "glance-api-paste.ini"), etc)
        with open(os.path.join(etc, "glance-api.conf"), "w") as conf:
            conf.write(textwrap.dedent(f"""\
                [DEFAULT]
                enabled_backends = fast:file
                image_cache_dir = {self.workdir}/cache
                worker_self_reference_url = {self.url}
                log_file = {self.workdir}/glance-api.log
                [database]
                connection = sqlite:///{self.workdir}/glance.sqlite
                [glance_store]
                default_backend = fast
                [fast]
                filesystem_store_datadir = {self.workdir}/images
                [os_glance_staging_store]
                filesystem_store_datadir = {self.workdir}/staging
                [os_glance_tasks_store]
                filesystem_store_datadir = {self.workdir}/tasks
                [paste_deploy]
                flavor = caching
                [oslo_policy]
                # Its paste pipeline without auth gives an admin context with no roles:
                # the legacy rules let it act, as glancelab's noauth admin does.
                enforce_new_defaults = false
                enforce_scope = false
                [wsgi]
                task_pool_threads = 8
                """))
        env = {**os.environ, "OS_GLANCE_CONFIG_DIR": etc}
        subprocess.run([os.path.join(GLANCE_VENV, "bin", "glance-manage"), "--config-dir", etc,
                        "db_sync"], env=env, check=True, capture_output=True)
        log = open(os.path.join(self.workdir, "gunicorn.log"), "ab")
        self.process = subprocess.Popen(
            [os.path.join(GLANCE_VENV, "bin", "gunicorn"), "-b", f"127.0.0.1:{self.port}",
             "-w", "1", "-k", "gthread", "--threads", "8", "--timeout", "600",
             "glance.wsgi.api:application"],
            env=env, cwd=self.workdir, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Glance exited; see {self.workdir}/gunicorn.log")
            try:
                urllib.request.urlopen(f"{self.url}/versions", timeout=2)
                return self
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"Glance did not answer; see {self.workdir}/gunicorn.log")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)


class Client:
    """One keep-alive connection, as a script's client would hold."""

    def __init__(self, url: str):
        host, port = url.split("//")[1].split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=600)

    def call(self, method: str, path: str, body=None, headers=None) -> tuple[int, bytes]:
        self.connection.request(method, path, body=body, headers=headers or {})
        answer = self.connection.getresponse()
        return answer.status, answer.read()

    def json(self, method: str, path: str, document=None) -> dict:
        status, data = self.call(method, path, json.dumps(document) if document else None, JSON)
        if status >= 300:
            raise RuntimeError(f"{method} {path} -> {status}: {data[:300]!r}")
        return json.loads(data) if data else {}


def create(url: str, name: str = "bench") -> str:
    return Client(url).json("POST", "/v2/images", {"name": name, "disk_format": "raw",
                                                   "container_format": "bare"})["id"]


def rate(url: str, path: str, seconds: float, threads: int) -> float:
    """Requests per second of GET path, `threads` clients each on its own connection."""
    stop = time.monotonic() + seconds

    def client() -> int:
        own, done = Client(url), 0
        while time.monotonic() < stop:
            status, _ = own.call("GET", path, headers={"Accept": "application/json"})
            if status != 200:
                raise RuntimeError(f"GET {path} -> {status}")
            done += 1
        return done

    began = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        total = sum(pool.map(lambda _: client(), range(threads)))
    return total / (time.monotonic() - began)


def creates_per_second(url: str, count: int) -> tuple[float, list[str]]:
    client = Client(url)
    began = time.monotonic()
    ids = [client.json("POST", "/v2/images", {"name": f"c{n}", "disk_format": "raw",
                                              "container_format": "bare"})["id"]
           for n in range(count)]
    return count / (time.monotonic() - began), ids


def deletes_per_second(url: str, ids: list[str]) -> float:
    client = Client(url)
    began = time.monotonic()
    for image_id in ids:
        status, _ = client.call("DELETE", f"/v2/images/{image_id}")
        if status != 204:
            raise RuntimeError(f"DELETE -> {status}")
    return len(ids) / (time.monotonic() - began)


def transfer(url: str, source: str, size: int) -> dict[str, float]:
    """MB/s of an upload from a file, then the first (cache filling) and a cached download."""
    image_id = create(url, "transfer")
    client = Client(url)
    began = time.monotonic()
    with open(source, "rb") as body:
        status, _ = client.call("PUT", f"/v2/images/{image_id}/file", body=body,
                                headers={"Content-Type": "application/octet-stream",
                                         "Content-Length": str(size)})
    upload = size / (time.monotonic() - began) / 1e6
    if status != 204:
        raise RuntimeError(f"upload -> {status}")
    figures = {"upload MB/s": upload}
    for label in ("first download MB/s", "cached download MB/s"):
        time.sleep(3.0)  # the first download's copy is committed after its md5 and fsync
        client = Client(url)  # a fresh connection: servers close idle ones (gunicorn: 2 s)
        began = time.monotonic()
        client.connection.request("GET", f"/v2/images/{image_id}/file")
        answer = client.connection.getresponse()
        while answer.read(1 << 20):
            pass
        figures[label] = size / (time.monotonic() - began) / 1e6
    return figures


def first_page_ms(url: str, repeat: int = 15) -> float:
    client = Client(url)
    samples = []
    for _ in range(repeat + 1):
        began = time.perf_counter()
        status, _ = client.call("GET", "/v2/images?limit=25", headers={"Accept": "application/json"})
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples[1:])


def grow_to(url: str, have: int, target: int, budget: float) -> tuple[int, bool]:
    """Create images through the API until `target`, in 4 threads; (count, finished)."""
    stop = time.monotonic() + budget
    need = target - have

    def worker(count: int) -> int:
        client, made = Client(url), 0
        for n in range(count):
            if time.monotonic() > stop:
                break
            client.json("POST", "/v2/images", {"name": f"s{n}", "disk_format": "raw",
                                               "container_format": "bare"})
            made += 1
        return made

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        made = sum(pool.map(worker, [need // 4 + (1 if i < need % 4 else 0) for i in range(4)]))
    return have + made, have + made >= target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--scale", default="1000,10000,100000")
    parser.add_argument("--scale-budget", type=float, default=300)
    args = parser.parse_args()
    subprocess.run([os.path.join(ROOT, "scripts", "install-glance")], check=True)
    size = args.size_mib * 1024 * 1024
    results: dict[str, dict[str, float]] = {"glancelab": {}, "Glance 33": {}}
    scale_notes: list[str] = []
    with tempfile.TemporaryDirectory() as workdir:
        source = os.path.join(workdir, "source.raw")
        with open(source, "wb") as out:
            for _ in range(args.size_mib):
                block = bytearray(os.urandom(1 << 20))
                block[510] = 0  # never an MBR: both servers inspect raw uploads
                out.write(block)
        servers = {
            "glancelab": lambda: ApiServer(os.path.join(workdir, "glancelab"), workers=1,
                                           extra_conf=f"""
                [DEFAULT]
                enabled_backends = fast:file
                image_cache_dir = {workdir}/glancelab/cache
                [glance_store]
                default_backend = fast
                [fast]
                filesystem_store_datadir = {workdir}/glancelab/images
                """),
            "Glance 33": lambda: GlanceServer(os.path.join(workdir, "glance")),
        }
        for name, make in servers.items():
            server = make()
            if isinstance(server, ApiServer):
                server.base_store_conf = False
            server.start()
            try:
                print(f"{name}: measuring ...", flush=True)
                figures = results[name]
                figures["create /s"], ids = creates_per_second(server.url, 200)
                target = ids[100]
                figures["GET image, 1 client /s"] = rate(
                    server.url, f"/v2/images/{target}", args.seconds, 1)
                figures["GET image, 8 threads /s"] = rate(
                    server.url, f"/v2/images/{target}", args.seconds, 8)
                figures["200-image page, 1 client /s"] = rate(
                    server.url, "/v2/images?limit=200", args.seconds, 1)
                figures["200-image page, 8 threads /s"] = rate(
                    server.url, "/v2/images?limit=200", args.seconds, 8)
                figures["delete /s"] = deletes_per_second(server.url, ids)
                figures.update(transfer(server.url, source, size))
                have = 1  # the transfer's image
                for step in [int(n) for n in args.scale.split(",")]:
                    have, finished = grow_to(server.url, have, step, args.scale_budget)
                    label = f"first page at {step:,} images, ms"
                    if not finished:
                        scale_notes.append(f"{name} stopped at {have:,} images: making "
                                           f"{step:,} would take over {args.scale_budget:.0f} s")
                        figures[f"first page at {have:,} images (stopped), ms"] = \
                            first_page_ms(server.url)
                        break
                    figures[label] = first_page_ms(server.url)
            finally:
                server.stop()
    report(results, scale_notes)


def report(results: dict[str, dict[str, float]], notes: list[str]) -> None:
    ours, theirs = results["glancelab"], results["Glance 33"]
    print("\n| figure | Glance 33 | glancelab | ratio |")
    print("|---|---|---|---|")
    for label in list(dict.fromkeys([*ours, *theirs])):
        mine, real = ours.get(label), theirs.get(label)
        ratio = ""
        if mine and real:
            ratio = f"{(real / mine) if label.endswith('ms') else (mine / real):.2f}x"
        show = lambda value: "-" if value is None else f"{value:,.1f}"  # noqa: E731
        print(f"| {label} | {show(real)} | {show(mine)} | {ratio} |")
    for note in notes:
        print(f"- {note}")


if __name__ == "__main__":
    main()
