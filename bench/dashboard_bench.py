"""The dashboard's images page with 10,000 images in the catalogue (targets: under 100 ms
at the median, since pages are paginated by the API; a page, HTML + JS + CSS, under
200 KB).

A noauth API on SQLite seeded straight into its database (bench/list_scale.py's seed), the
dashboard in front of it (no login), each page asked `--repeat` times after a warm-up.
Prints figures and their ratio to the target; asserts nothing.
Usage: .venv/bin/python bench/dashboard_bench.py [--images 10000] [--repeat 50]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
from harness import GLANCELAB, ApiServer, free_port, wait_until_answers  # noqa: E402
from list_scale import seed, timed  # noqa: E402

TARGET_MS, TARGET_KB = 100, 200
PAGES = {"images, first page": "/images", "images, public tab": "/images?tab=public",
         "images, name search": "/images?name=image-00004242", "quotas": "/quotas",
         "stores": "/stores"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dashboard-bench-") as work:
        database = f"sqlite:///{work}/glance.sqlite"
        seed(database, args.images)
        api = ApiServer(os.path.join(work, "api"), database, workers=1).start()
        port = free_port()
        dashboard = subprocess.Popen([GLANCELAB, "dashboard", "--api-url", api.url,
                                      "--keystone-url", "", "--port", str(port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_answers(url + "/images")
            session = requests.Session()
            times = {name: round(timed(session, url + path, args.repeat), 1)
                     for name, path in PAGES.items()}
            page = requests.get(url + "/images", timeout=60)
            weight = len(page.content) + sum(
                len(requests.get(f"{url}/static/{name}", timeout=60).content)
                for name in ("dashboard.js", "dashboard.css"))
            rows = page.text.count("<tr data-id=")
        finally:
            dashboard.terminate()
            dashboard.wait(timeout=10)
            api.stop()
    print(json.dumps({
        "catalogue": args.images, "rows on the page": rows,
        "median ms": times,
        "ratio to the 100 ms target": {k: round(v / TARGET_MS, 2) for k, v in times.items()},
        "page weight KB (HTML+JS+CSS)": round(weight / 1024, 1),
        "ratio to the 200 KB target": round(weight / 1024 / TARGET_KB, 3),
    }, indent=2))


if __name__ == "__main__":
    main()
