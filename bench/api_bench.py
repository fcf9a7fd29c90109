"""API benchmark: prints figures, asserts nothing.

- the disk's own ceiling (1 GiB written with dd conv=fsync into the store directory)
- 1 GiB upload and download through the API (curl on loopback), with peak server RSS,
  and a smaller transfer to show RSS stays flat as size grows
- GET one image and GET a 25-image list, requests per second with one worker (wrk)
- interoperable import of the same 1 GiB: stage + glance-direct, and web-download from a
  local web server, each with the time to active and the peak server RSS

Usage: .venv/bin/python bench/api_bench.py [--size-mib 1024] [--seconds 5]
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from harness import ApiServer, StaticHttpServer  # noqa: E402

MB = 1_000_000
HEADERS = {"X-Project-Id": "bench", "X-Roles": "admin,member,reader"}


class RssSampler:
    """Peak resident memory of a process tree, sampled every 20 ms."""

    def __init__(self, root_pid: int):
        self.root_pid = root_pid
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _pids(self) -> list[int]:
        # The kernel's own list of children: a pgrep 50 times a second took a share of the
        # two cores and slowed the very transfers being measured.
        children = []
        for task in glob.glob(f"/proc/{self.root_pid}/task/*/children"):
            with contextlib.suppress(OSError), open(task) as listed:
                children += [int(pid) for pid in listed.read().split()]
        return [self.root_pid] + children

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in self._pids():
                try:
                    with open(f"/proc/{pid}/status") as status:
                        match = re.search(r"VmRSS:\s+(\d+)", status.read())
                    if match:
                        self.peak_kib = max(self.peak_kib, int(match.group(1)))
                except FileNotFoundError:
                    pass
            time.sleep(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def curl(*args: str) -> tuple[str, float]:
    header_args = [a for k, v in HEADERS.items() for a in ("-H", f"{k}: {v}")]
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
                          *header_args, *args], capture_output=True, text=True, check=True).stdout
    code, seconds = out.split()
    return code, float(seconds)


def api_json(server: ApiServer, method: str, path: str, body=None) -> dict:
    import requests
    response = requests.request(method, server.url + path, json=body, headers=HEADERS, timeout=60)
    response.raise_for_status()
    return response.json() if response.content else {}


def make_source(path: str, size: int) -> None:
    with open(path, "wb") as out:
        block = os.urandom(MB)
        for _ in range(size // MB):
            out.write(block)
        out.write(os.urandom(size % MB))


def disk_ceiling(directory: str, source: str) -> float:
    target = os.path.join(directory, "dd-ceiling")
    start = time.perf_counter()
    subprocess.run(["dd", f"if={source}", f"of={target}", "bs=1M", "conv=fsync"],
                   check=True, capture_output=True)
    elapsed = time.perf_counter() - start
    size = os.path.getsize(target)
    os.unlink(target)
    return size / elapsed / MB


def transfer(server: ApiServer, source: str) -> dict:
    size = os.path.getsize(source)
    image = api_json(server, "POST", "/v2/images",
                     {"name": "bench", "disk_format": "raw", "container_format": "bare"})
    url = f"{server.url}/v2/images/{image['id']}/file"
    with RssSampler(server.process.pid) as up_rss:
        code, up_seconds = curl("-T", source, "-H", "Content-Type: application/octet-stream", url)
    assert code == "204", code
    with RssSampler(server.process.pid) as down_rss:
        code, down_seconds = curl(url)
    assert code == "200", code
    api_json(server, "DELETE", f"/v2/images/{image['id']}")
    return {"size_mib": size // (1024 * 1024),
            "upload_MBps": round(size / up_seconds / MB),
            "download_MBps": round(size / down_seconds / MB),
            "upload_peak_rss_MiB": round(up_rss.peak_kib / 1024, 1),
            "download_peak_rss_MiB": round(down_rss.peak_kib / 1024, 1)}


def wait_active(server: ApiServer, image_id: str) -> None:
    while True:
        image = api_json(server, "GET", f"/v2/images/{image_id}")
        if image["status"] == "active":
            return
        if image["status"] == "queued":
            tasks = api_json(server, "GET", f"/v2/images/{image_id}/tasks")["tasks"]
            raise RuntimeError(f"import failed: {tasks[0]['message'] if tasks else '?'}")
        time.sleep(0.05)


def imports(server: ApiServer, source: str) -> dict:
    size = os.path.getsize(source)
    results = {}
    image = api_json(server, "POST", "/v2/images", {"name": "bench-direct"})
    with RssSampler(server.process.pid) as rss:
        code, stage_seconds = curl("-T", source, "-H", "Content-Type: application/octet-stream",
                                   f"{server.url}/v2/images/{image['id']}/stage")
        assert code == "204", code
        start = time.perf_counter()
        api_json(server, "POST", f"/v2/images/{image['id']}/import",
                 {"method": {"name": "glance-direct"}})
        wait_active(server, image["id"])
        import_seconds = time.perf_counter() - start
    results["glance_direct"] = {"stage_MBps": round(size / stage_seconds / MB),
                                "import_MBps": round(size / import_seconds / MB),
                                "peak_rss_MiB": round(rss.peak_kib / 1024, 1)}
    web = StaticHttpServer(os.path.dirname(source))
    try:
        image = api_json(server, "POST", "/v2/images", {"name": "bench-web"})
        with RssSampler(server.process.pid) as rss:
            start = time.perf_counter()
            api_json(server, "POST", f"/v2/images/{image['id']}/import",
                     {"method": {"name": "web-download",
                                 "uri": f"{web.url}/{os.path.basename(source)}"}})
            wait_active(server, image["id"])
            seconds = time.perf_counter() - start
    finally:
        web.stop()
    results["web_download"] = {"to_active_MBps": round(size / seconds / MB),
                               "peak_rss_MiB": round(rss.peak_kib / 1024, 1)}
    return results


def wrk(url: str, seconds: int, connections: int = 8) -> float:
    if not shutil.which("wrk"):
        return float("nan")
    header_args = [a for k, v in HEADERS.items() for a in ("-H", f"{k}: {v}")]
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", *header_args, url],
                         capture_output=True, text=True, check=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    results: dict = {}
    work = tempfile.mkdtemp(prefix="glancelab-bench-", dir=os.environ.get("BENCH_DIR"))
    try:
        big = os.path.join(work, "big.img")
        small = os.path.join(work, "small.img")
        make_source(big, args.size_mib * 1024 * 1024)
        make_source(small, max(args.size_mib // 8, 1) * 1024 * 1024)

        server = ApiServer(os.path.join(work, "transfer"), workers=2).start()
        try:
            results["disk_ceiling_dd_fsync_MBps"] = round(disk_ceiling(server.datadir, big))
            results["transfer_small"] = transfer(server, small)
            results["transfer_big"] = transfer(server, big)
        finally:
            server.stop()

        server = ApiServer(os.path.join(work, "import"), workers=2, extra_conf="""
            [import_filtering_opts]
            allowed_ports =
            """).start()
        try:
            results["import_big"] = imports(server, big)
        finally:
            server.stop()

        server = ApiServer(os.path.join(work, "requests"), workers=1).start()
        try:
            ids = [api_json(server, "POST", "/v2/images",
                            {"name": f"img-{i}", "os_distro": "debian", "tags": ["a", "b"]})["id"]
                   for i in range(100)]
            results["get_image_rps_1_worker"] = round(
                wrk(f"{server.url}/v2/images/{ids[50]}", args.seconds))
            results["list_25_images_rps_1_worker"] = round(
                wrk(f"{server.url}/v2/images?limit=25", args.seconds))
        finally:
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
