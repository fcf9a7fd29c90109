"""Token validation cost: GET one image, requests per second, noauth beside keystone.

Starts the project's Keystone, then two single-worker API servers on SQLite: one with
auth_strategy = noauth, one with auth_strategy = keystone (auth_token's token cache and
our memo of its answers warmed by first requests). wrk drives each for the same time with the same
connections. Prints both figures and the ratio keystone / noauth (the target is >= 0.8).
Asserts nothing.

Usage: .venv/bin/python bench/auth_bench.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import requests  # noqa: E402

from harness import ApiServer, Keystone  # noqa: E402

# The same kind of caller on both sides: the demo token is a member and reader of its
# project (an admin's requests pass the policy rules sooner, so would not compare).
NOAUTH = {"X-Project-Id": "bench", "X-Roles": "member,reader"}


def wrk(url: str, headers: dict, seconds: int, connections: int = 8) -> float:
    if not shutil.which("wrk"):
        sys.exit("auth_bench: wrk is missing (WITH_BENCH=1 scripts/install-system-deps)")
    args = [a for key, value in headers.items() for a in ("-H", f"{key}: {value}")]
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", *args, url],
                         capture_output=True, text=True, check=True).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        sys.exit(f"auth_bench: {non_2xx.group(1)} requests failed against {url}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def one_image(server: ApiServer, headers: dict) -> str:
    created = requests.post(f"{server.url}/v2/images", headers=headers, timeout=60,
                            json={"name": "bench", "disk_format": "raw",
                                  "container_format": "bare"})
    created.raise_for_status()
    image_id = created.json()["id"]
    for _ in range(20):  # warm: prepared queries, and each worker's token cache
        requests.get(f"{server.url}/v2/images/{image_id}", headers=headers,
                     timeout=60).raise_for_status()
    return image_id


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="glancelab-auth-bench-")
    keystone = Keystone(os.path.join(work, "keystone")).start()
    servers = []
    try:
        plain = ApiServer(os.path.join(work, "noauth"), workers=1).start()
        servers.append(plain)
        guarded = ApiServer(os.path.join(work, "keystone-api"), workers=1,
                            extra_conf="[DEFAULT]\nauth_strategy = keystone\n"
                                       + keystone.authtoken_section()).start()
        servers.append(guarded)
        token = {"X-Auth-Token": keystone.token("demo")}
        plain_rps = wrk(f"{plain.url}/v2/images/{one_image(plain, NOAUTH)}", NOAUTH,
                        args.seconds)
        keystone_rps = wrk(f"{guarded.url}/v2/images/{one_image(guarded, token)}", token,
                           args.seconds)
    finally:
        for server in servers:
            server.stop()
        keystone.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"GET image, one worker, {args.seconds}s each:")
    print(f"  noauth                      {plain_rps:9.0f} req/s")
    print(f"  keystone (token cache warm) {keystone_rps:9.0f} req/s")
    print(f"  ratio keystone / noauth     {keystone_rps / plain_rps:9.2f}  (target >= 0.80)")


if __name__ == "__main__":
    main()
