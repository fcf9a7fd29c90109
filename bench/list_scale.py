"""How a list's cost grows with the catalogue: prints figures, asserts nothing.

For each catalogue size (default 1,000, 10,000 and 100,000 images, spread over 1,000
projects, with shares, tags and properties) and each database (SQLite, PostgreSQL), the
catalogue is written straight into the database, one API worker is started on it, and each
request kind is timed from a member's point of view (median of --repeat runs): the first
page, filtered pages (name, tag, a property, visibility, member_status), a sorted page and
page 5 of a walk. Each figure is printed with its ratio to the same request at the
smallest size; the target is 1.5 or less. A request asks at every size for as many images
as the smallest catalogue has for it (at most 20), so that a ratio compares the cost of
finding the same number of images, not the length of two pages; the rows are printed.

Usage: .venv/bin/python bench/list_scale.py [--sizes 1000,10000,100000] [--repeat 15]
       [--databases sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import statistics
import sys
import tempfile
import time
import uuid

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
from harness import ApiServer, Postgres  # noqa: E402

PROJECTS = 1000
MEMBER = "project-0007"  # the caller: owns ~1/1000 of the images, member of some shares
HEADERS = {"X-Identity-Status": "Confirmed", "X-Project-Id": MEMBER, "X-User-Id": "bench",
           "X-Roles": "member,reader"}


def requests_to_time(walk_marker: str) -> dict[str, str]:
    return {
        "first page": "/v2/images?",
        "name": "/v2/images?name=image-00000007",  # one of the caller's own
        "tag": "/v2/images?tag=tag-7",
        "property": "/v2/images?os_distro=distro-7",  # the caller has some
        "visibility=public": "/v2/images?visibility=public",
        "member_status=all": "/v2/images?member_status=all&visibility=shared",
        "sorted by name": "/v2/images?sort=name:asc",
        "page 5 of a walk": f"/v2/images?marker={walk_marker}",
    }


def seed(database_url: str, size: int) -> None:
    """Write a catalogue of `size` images straight into the database (schema by the
    service's own migrations)."""
    from glancelab.db import bind, database, migrations
    from glancelab.db.models import Image, ImageMember, ImageProperty, ImageTag
    bind(database_url)
    migrations.sync(database.obj)
    rng = random.Random(size)
    start = datetime.datetime(2026, 1, 1)
    images, props, tags, members = [], [], [], []
    for number in range(size):
        image_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        owner = f"project-{number % PROJECTS:04d}"
        visibility = rng.choices(["private", "shared", "public", "community"], [60, 25, 10, 5])[0]
        images.append({"id": image_id, "name": f"image-{number:08d}", "status": "active",
                       "visibility": visibility, "owner": owner, "size": rng.randint(1, 1 << 30),
                       "disk_format": rng.choice(["raw", "qcow2"]), "container_format": "bare",
                       "created_at": start + datetime.timedelta(seconds=number),
                       "updated_at": start + datetime.timedelta(seconds=number)})
        props.append({"image": image_id, "name": "os_distro", "value": f"distro-{number % 50}"})
        props.append({"image": image_id, "name": "hw_disk_bus", "value": "virtio"})
        tags.append({"image": image_id, "value": f"tag-{number % 100}"})
        if visibility == "shared":  # shared with three projects, whoever they are
            for member in rng.sample(range(PROJECTS), 3):
                members.append({"image": image_id, "member": f"project-{member:04d}",
                                "status": rng.choice(["pending", "accepted", "rejected"])})
    with database.atomic():
        for model, rows in ((Image, images), (ImageProperty, props), (ImageTag, tags),
                            (ImageMember, members)):
            for index in range(0, len(rows), 500):
                model.insert_many(rows[index:index + 500]).on_conflict_ignore().execute()
    if database_url.startswith("postgres"):
        database.execute_sql("ANALYZE")  # what autovacuum does soon after such a load
    # SQLite: no ANALYZE, as on a real service; the planner has the statistics the
    # migrations give it (db/migrations.py SQLITE_PLANNER_STATS)
    database.close()


def timed(session: requests.Session, url: str, repeat: int) -> float:
    """Median milliseconds of `repeat` GETs (after one warm-up)."""
    session.get(url, timeout=120).raise_for_status()
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        session.get(url, timeout=120).raise_for_status()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def measure(database_url: str, size: int, repeat: int, workdir: str,
            limits: dict[str, int]) -> dict[str, tuple[float, int]]:
    """{request: (median ms, images returned)}; `limits` (filled at the smallest size)
    holds each request's page size."""
    seed(database_url, size)
    server = ApiServer(os.path.join(workdir, f"api-{size}"), database_url, workers=1).start()
    try:
        session = requests.Session()
        session.headers.update(HEADERS)
        page = session.get(f"{server.url}/v2/images?limit=20", timeout=120).json()
        for _ in range(3):  # walk to page 4: its last image is page 5's marker
            page = session.get(server.url + page["next"], timeout=120).json()
        marker = page["images"][-1]["id"]
        figures = {}
        for kind, path in requests_to_time(marker).items():
            if kind not in limits:
                found = session.get(f"{server.url}{path}&limit=20", timeout=120).json()
                limits[kind] = max(1, len(found["images"]))
            url = f"{server.url}{path}&limit={limits[kind]}"
            rows = len(session.get(url, timeout=120).json()["images"])
            figures[kind] = (timed(session, url, repeat), rows)
        return figures
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as workdir:
        postgres = None
        try:
            for kind in args.databases.split(","):
                figures: dict[int, dict[str, tuple[float, int]]] = {}
                limits: dict[str, int] = {}
                for size in sizes:
                    if kind == "sqlite":
                        url = f"sqlite:///{workdir}/{kind}-{size}.sqlite"
                    else:
                        postgres = postgres or Postgres(os.path.join(workdir, "pg")).start()
                        url = postgres.new_database()
                    print(f"{kind}: seeding {size:,} images and timing ...", flush=True)
                    figures[size] = measure(url, size, args.repeat, workdir, limits)
                report(kind, sizes, figures)
        finally:
            if postgres is not None:
                postgres.stop()


def report(kind: str, sizes: list[int],
           figures: dict[int, dict[str, tuple[float, int]]]) -> None:
    base = sizes[0]
    print(f"\n{kind}: median ms per request (ratio to {base:,} images; target <= 1.5)")
    print("| request | images | " + " | ".join(f"{size:,}" for size in sizes) + " |")
    print("|---|---|" + "---|" * len(sizes))
    for request in figures[base]:
        cells = []
        for size in sizes:
            value, _rows = figures[size][request]
            ratio = value / figures[base][request][0]
            cells.append(f"{value:.1f}" + ("" if size == base else f" ({ratio:.2f}x)"))
        rows = "/".join(sorted({str(figures[size][request][1]) for size in sizes}))
        print(f"| {request} | {rows} | " + " | ".join(cells) + " |")
    print(flush=True)


if __name__ == "__main__":
    main()
