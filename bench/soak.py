"""A bounded mixed load with faults injected during it: nothing lost, nothing stuck, no 500.

32 clients for 60 s against a 2-worker API (a file store and an S3 store, image cache on):
list, show, create+patch, upload (256 KiB..2 MiB, to either store), download (each body
checked against the md5 recorded at upload) and delete. During the run: kill -9 of a
worker, the S3 server stopped and started again, and a burst of 16 uploads that stall
(client_socket_timeout is 5 s here). At the end every active image is downloaded and
checked again.

Prints requests and answers by class, p50/p99, and the three targets: 500s, images stuck
in saving/importing, bytes lost (all 0). A 503 while S3 is down is the right answer and
is counted apart, as are connections cut by the killed worker.
Usage: .venv/bin/python bench/soak.py [--seconds 60] [--clients 32] [--database postgresql]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "api"))
import requests  # noqa: E402

from harness import ApiServer, Postgres, Service, free_port_block  # noqa: E402
from helpers import ADMIN  # noqa: E402

KiB = 1024
STORES = ("local", "s3")
SOCKET_TIMEOUT = 5


class Tally:
    """Every answer and its latency, from all clients."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.by_class: dict[str, int] = {}
        self.examples: dict[str, str] = {}
        self.corrupt_downloads = 0

    def note(self, kind: str, seconds: float, detail: str = "") -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.by_class[kind] = self.by_class.get(kind, 0) + 1
            if detail and kind not in self.examples:
                self.examples[kind] = detail[:300]


class Images:
    """Active images this run uploaded, with the md5 of what was sent."""

    def __init__(self):
        self.lock = threading.Lock()
        self.md5: dict[str, str] = {}

    def add(self, image_id: str, md5: str) -> None:
        with self.lock:
            self.md5[image_id] = md5

    def pick(self) -> tuple[str, str] | None:
        with self.lock:
            return random.choice(list(self.md5.items())) if self.md5 else None

    def drop(self, image_id: str) -> None:
        with self.lock:
            self.md5.pop(image_id, None)


def request(session, tally: Tally, method: str, url: str, **kwargs):
    started = time.monotonic()
    try:
        response = session.request(method, url, timeout=60, **kwargs)
    except requests.RequestException as exc:
        tally.note("connection cut", time.monotonic() - started, repr(exc))
        return None
    code = response.status_code
    kind = "500" if code == 500 else "503" if code == 503 else f"{code // 100}xx"
    tally.note(kind, time.monotonic() - started,
               f"{method} {url.split('/v2', 1)[-1]}: {response.text}" if code >= 500 else "")
    return response


def client(url: str, stop_at: float, tally: Tally, images: Images, seed: int) -> None:
    rng = random.Random(seed)
    session = requests.Session()
    session.headers.update({"Accept": "application/json", **ADMIN})
    while time.monotonic() < stop_at:
        roll = rng.random()
        if roll < 0.25:
            request(session, tally, "GET", f"{url}/v2/images?limit=20")
        elif roll < 0.40:
            picked = images.pick()
            if picked:
                request(session, tally, "GET", f"{url}/v2/images/{picked[0]}")
        elif roll < 0.50:
            created = request(session, tally, "POST", f"{url}/v2/images", json={"name": "soak"})
            if created is not None and created.status_code == 201:
                request(session, tally, "PATCH", f"{url}/v2/images/{created.json()['id']}",
                        data=json.dumps([{"op": "add", "path": "/soak", "value": "yes"}]),
                        headers={"Content-Type": "application/openstack-images-v2.1-json-patch"})
        elif roll < 0.68:
            upload(session, url, tally, images, rng)
        elif roll < 0.90:
            picked = images.pick()
            if picked:
                response = request(session, tally, "GET", f"{url}/v2/images/{picked[0]}/file")
                if response is not None and response.status_code == 200 and \
                        hashlib.md5(response.content).hexdigest() != picked[1]:
                    with tally.lock:
                        tally.corrupt_downloads += 1
        else:
            picked = images.pick()
            if picked:
                images.drop(picked[0])
                request(session, tally, "DELETE", f"{url}/v2/images/{picked[0]}")


def upload(session, url: str, tally: Tally, images: Images, rng: random.Random) -> None:
    created = request(session, tally, "POST", f"{url}/v2/images",
                      json={"name": "soak-data", "disk_format": "raw", "container_format": "bare"})
    if created is None or created.status_code != 201:
        return
    image_id = created.json()["id"]
    payload = rng.randbytes(rng.randint(256, 2048) * KiB)
    response = request(session, tally, "PUT", f"{url}/v2/images/{image_id}/file", data=payload,
                       headers={"Content-Type": "application/octet-stream",
                                "X-Image-Meta-Store": rng.choice(STORES)})
    if response is not None and response.status_code == 204:
        images.add(image_id, hashlib.md5(payload).hexdigest())


def stalled_uploads(url: str, count: int) -> list[socket.socket]:
    """Uploads that send 1 MiB of 8 and then nothing."""
    session = requests.Session()
    session.headers.update(ADMIN)
    host, port = url.split("//")[1].split(":")
    headers = "".join(f"{k}: {v}\r\n" for k, v in ADMIN.items())
    sockets = []
    for _ in range(count):
        image_id = session.post(f"{url}/v2/images", json={"name": "stalled"}).json()["id"]
        sock = socket.create_connection((host, int(port)))
        sock.sendall(f"PUT /v2/images/{image_id}/file HTTP/1.1\r\nHost: x\r\n{headers}"
                     "Content-Type: application/octet-stream\r\n"
                     f"Content-Length: {8 * 1024 * KiB}\r\n\r\n".encode())
        sock.sendall(os.urandom(1024 * KiB))
        sockets.append(sock)
    return sockets


def inject_faults(server: ApiServer, s3: Service, seconds: float, log: list) -> list:
    """The faults, each at its moment of the run; returns the stalled sockets."""
    started = time.monotonic()

    def at(fraction: float) -> None:
        time.sleep(max(0.0, started + seconds * fraction - time.monotonic()))

    at(0.25)
    victim = server.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    log.append(f"{time.monotonic() - started:.0f}s kill -9 worker {victim}")
    at(0.40)
    s3.stop()
    log.append(f"{time.monotonic() - started:.0f}s S3 stopped")
    at(0.55)
    s3.start()
    log.append(f"{time.monotonic() - started:.0f}s S3 started again")
    at(0.70)
    sockets = stalled_uploads(server.url, 16)
    log.append(f"{time.monotonic() - started:.0f}s 16 uploads stalled")
    return sockets


def final_check(url: str, images: Images) -> dict:
    """Nothing stuck, and every active image (ours and any other) downloads whole."""
    session = requests.Session()
    session.headers.update({"Accept": "application/json", **ADMIN})
    deadline = time.monotonic() + SOCKET_TIMEOUT + 30
    while True:
        stuck = [image for status in ("saving", "importing", "uploading")
                 for image in session.get(f"{url}/v2/images?status={status}&limit=1000",
                                          timeout=60).json()["images"]]
        if not stuck or time.monotonic() > deadline:
            break
        time.sleep(1)
    lost_bytes = checked = 0
    marker = None
    while True:
        page = session.get(f"{url}/v2/images?status=active&limit=200"
                           + (f"&marker={marker}" if marker else ""), timeout=60).json()
        for image in page["images"]:
            body = session.get(f"{url}/v2/images/{image['id']}/file", timeout=120)
            checked += 1
            ours = images.md5.get(image["id"])
            digest = hashlib.md5(body.content).hexdigest() if body.status_code == 200 else None
            if digest != image["checksum"] or (ours is not None and digest != ours):
                lost_bytes += image["size"] or 0
        if "next" not in page or not page["images"]:
            break
        marker = page["images"][-1]["id"]
    return {"stuck_in_saving_or_importing": len(stuck), "active_images_verified": checked,
            "bytes_lost": lost_bytes}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="glancelab-soak-", dir=os.environ.get("BENCH_DIR"))
    os.chmod(work, 0o755)  # PostgreSQL runs as its own user
    s3 = Service("s3", os.path.join(work, "s3"), free_port_block(8)).start()
    postgres = None
    database_url = None
    if args.database == "postgresql":
        postgres = Postgres(os.path.join(work, "postgres")).start()
        database_url = postgres.new_database()
    server = ApiServer(os.path.join(work, "api"), database_url, extra_conf=f"""
        [DEFAULT]
        enabled_backends = local:file, s3:s3
        client_socket_timeout = {SOCKET_TIMEOUT}
        image_cache_dir = {work}/api/cache
        [glance_store]
        default_backend = local
        [local]
        filesystem_store_datadir = {work}/api/local
        """ + s3.store_section("s3", "soak", s3_store_large_object_size="1",
                               s3_store_large_object_chunk_size="5"))
    server.base_store_conf = False
    server.start()
    tally, images, faults = Tally(), Images(), []
    sockets: list[socket.socket] = []
    try:
        stop_at = time.monotonic() + args.seconds
        clients = [threading.Thread(target=client, args=(server.url, stop_at, tally, images, n))
                   for n in range(args.clients)]
        for thread in clients:
            thread.start()
        sockets = inject_faults(server, s3, args.seconds, faults)
        for thread in clients:
            thread.join()
        checked = final_check(server.url, images)
    finally:
        for sock in sockets:
            sock.close()
        server.stop()
        s3.stop()
        if postgres:
            postgres.stop()
    latencies = sorted(tally.latencies)
    print(json.dumps({
        "database": args.database, "clients": args.clients, "seconds": args.seconds,
        "faults": faults,
        "requests": len(latencies),
        "answers": dict(sorted(tally.by_class.items())),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
        "targets": {"500s": tally.by_class.get("500", 0), **checked,
                    "corrupt_downloads_during_run": tally.corrupt_downloads},
        "examples": tally.examples,
    }, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
