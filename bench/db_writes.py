"""Metadata writes per second with 8 concurrent writers, on SQLite and on PostgreSQL.

A 2-worker API on each database; 8 threads create images, patch a property and
create+delete for 10 s. Prints writes/s and the number of 5xx answers (target: 0).
Usage: .venv/bin/python bench/db_writes.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "api"))
from harness import ApiServer, Postgres  # noqa: E402
from helpers import ADMIN, Client  # noqa: E402

WRITERS = 8


def writer(url: str, number: int, stop_at: float) -> tuple[int, int]:
    client = Client(url, ADMIN)
    own = client.create_image(name=f"writer-{number}")
    writes = errors = step = 0
    while time.monotonic() < stop_at:
        step += 1
        if step % 2:
            response = client.post("/v2/images", json={"name": f"w{number}-{step}"})
        else:
            response = client.patch(f"/v2/images/{own['id']}", [
                {"op": "add", "path": f"/p{step % 5}", "value": str(step)}])
        writes += 1
        errors += response.status_code >= 500
    return writes, errors


def measure(server: ApiServer, seconds: int) -> dict:
    stop_at = time.monotonic() + seconds
    with concurrent.futures.ThreadPoolExecutor(WRITERS) as pool:
        results = list(pool.map(lambda n: writer(server.url, n, stop_at), range(WRITERS)))
    writes = sum(w for w, _ in results)
    return {"writes_per_s": round(writes / seconds), "5xx": sum(e for _, e in results)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="glancelab-db-writes-", dir=os.environ.get("BENCH_DIR"))
    os.chmod(work, 0o755)  # PostgreSQL runs as its own user
    postgres = Postgres(os.path.join(work, "postgres")).start()
    results = {}
    try:
        for name, url in (("sqlite", None), ("postgresql", postgres.new_database())):
            server = ApiServer(os.path.join(work, name), url).start()
            try:
                results[name] = measure(server, args.seconds)
            finally:
                server.stop()
    finally:
        postgres.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"writers": WRITERS, "seconds": args.seconds, **results}, indent=2))


if __name__ == "__main__":
    main()
