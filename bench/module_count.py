"""How many of our modules one request runs, and whether any import runs back up.

Traces one PUT /v2/images/{id}/file (1 MiB) and one GET /v2/images (25 images) through
the real app in-process (falcon.testing, SQLite and a filesystem store in a temporary
directory) with sys.setprofile, after a warm-up request of each kind, and counts the
distinct files under api/glancelab that ran a function. Then reads every module's imports
and lists those where the shared kernel (conf, db, errors, logs, runtime, formats, the
store drivers) imports a domain folder. Prints figures, asserts nothing.

Usage: .venv/bin/python bench/module_count.py
"""

from __future__ import annotations

import ast
import os
import sys
import tempfile
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "api", "glancelab")
sys.path.insert(0, os.path.join(ROOT, "api"))

import falcon.testing  # noqa: E402

from glancelab import conf  # noqa: E402
from glancelab.app import build_runtime, create_app  # noqa: E402
from glancelab.db import database  # noqa: E402
from glancelab.db.migrations import sync  # noqa: E402

HEADERS = {"X-Project-Id": "bench", "X-User-Id": "bench", "X-Roles": "admin,member,reader"}
# The kernel every domain may use; it must not use them.
# Every module of these folders counts (stores: the driver library; web: request plumbing).
KERNEL = ("conf/", "db/", "errors", "logs", "runtime", "formats/", "stores/", "web/")
DOMAINS = ("images", "imports", "quotas", "cache", "metadefs", "identity", "multistore",
           "discovery", "health")


def relative(path: str) -> str:
    return os.path.relpath(path, PACKAGE)


class Tracer:
    def __init__(self):
        self.files: set[str] = set()

    def __call__(self, frame, event, arg):
        if event == "call":
            filename = frame.f_code.co_filename
            if filename.startswith(PACKAGE):
                self.files.add(relative(filename))

    def __enter__(self):
        threading.setprofile(self)
        sys.setprofile(self)
        return self

    def __exit__(self, *exc):
        sys.setprofile(None)
        threading.setprofile(None)


def app_in(workdir: str) -> falcon.testing.TestClient:
    path = os.path.join(workdir, "glance-api.conf")
    with open(path, "w") as handle:
        handle.write(f"""[DEFAULT]
[database]
connection = sqlite:///{workdir}/glance.sqlite
[glance_store]
filesystem_store_datadir = {workdir}/images
""")
    config = conf.load(path, environ={})
    rt = build_runtime(config)
    rt.stores.prepare()
    app = create_app(config, rt)
    sync(database.obj)
    return falcon.testing.TestClient(app, headers=HEADERS)


def new_image(client) -> str:
    result = client.simulate_post("/v2/images", json={"name": "bench", "disk_format": "raw",
                                                      "container_format": "bare"})
    assert result.status_code == 201, result.text
    return result.json["id"]


def upload(client, image_id: str, payload: bytes) -> None:
    result = client.simulate_put(f"/v2/images/{image_id}/file", body=payload,
                                 headers={"Content-Type": "application/octet-stream"})
    assert result.status_code == 204, result.text


def list_images(client) -> None:
    result = client.simulate_get("/v2/images")
    assert result.status_code == 200 and len(result.json["images"]) == 25, result.text


def traced(action) -> list[str]:
    with Tracer() as tracer:
        action()
    return sorted(tracer.files)


def upward_imports() -> tuple[list[str], list[str]]:
    """(kernel modules importing a domain, the same only for type annotations)."""
    found, typing_only = [], []
    for folder, _dirs, names in os.walk(PACKAGE):
        for name in names:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            module = relative(path)[:-3]
            if not module.startswith(KERNEL):
                continue
            tree = ast.parse(open(path).read())
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module:
                    parts = node.module.split(".")
                    if parts[0] == "glancelab" and len(parts) > 1 and parts[1] in DOMAINS:
                        line = f"{module} imports {node.module}"
                        (typing_only if _type_checking_only(tree, node) else found).append(line)
    return sorted(found), sorted(typing_only)


def _type_checking_only(tree, target) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            if any(child is target for child in ast.walk(node)):
                return True
    return False


def main() -> None:
    with tempfile.TemporaryDirectory() as workdir:
        client = app_in(workdir)
        payload = os.urandom(1024 * 1024)
        upload(client, new_image(client), payload)  # warm-up: imports, prepared queries
        for _ in range(24):
            new_image(client)
        list_images(client)
        image_id = new_image(client)
        put_modules = traced(lambda: upload(client, image_id, payload))
        list_modules = traced(lambda: list_images(client))
    print(f"PUT /v2/images/{{id}}/file ran code in {len(put_modules)} of our modules:")
    print("  " + ", ".join(put_modules))
    print(f"GET /v2/images ran code in {len(list_modules)} of our modules:")
    print("  " + ", ".join(list_modules))
    upward, typing_only = upward_imports()
    print(f"upward imports (kernel -> domain): {len(upward)}")
    for line in upward:
        print(f"  {line}")
    print(f"kernel -> domain references for type annotations only: {len(typing_only)}")
    for line in typing_only:
        print(f"  {line}")


if __name__ == "__main__":
    main()
