"""Two nodes behind HAProxy, clients never stopping: an upgrade from the previous release
one node at a time, then a rolling restart that drains each node first. No request fails."""

from __future__ import annotations

import concurrent.futures
import os
import threading
import time
import uuid

import pytest
import requests

from harness import ApiServer, Haproxy, free_port, raw_disk
from helpers import ADMIN


@pytest.fixture
def cluster(tmp_path, previous_release):
    database = f"sqlite:///{tmp_path}/shared.sqlite"
    nodes = []
    for name in ("a", "b"):
        port = free_port()
        node = ApiServer(str(tmp_path / name), database, workers=2, port=port,
                         release_dir=previous_release, extra_conf=f"""[healthcheck]
                         disable_by_file_path = {tmp_path / name / 'healthcheck_disable'}
                         """)
        node.datadir = str(tmp_path / "images")  # one store for both, as a shared one
        node.drain_file = str(tmp_path / name / "healthcheck_disable")
        nodes.append(node.start())
    balancer = Haproxy(str(tmp_path / "haproxy"), nodes).start()
    for index in range(len(nodes)):
        balancer.wait_for(index, "UP")
    yield balancer, nodes
    balancer.stop()
    for node in nodes:
        node.stop()


class Traffic:
    """Clients through the balancer until stopped: create, upload, read, list, delete."""

    def __init__(self, url: str, clients: int = 4):
        self.url = url
        self.stop = threading.Event()
        self.started = time.monotonic()
        self.done = 0
        self.failures: list[str] = []
        self.pool = concurrent.futures.ThreadPoolExecutor(clients)
        self.futures = [self.pool.submit(self._client, n) for n in range(clients)]

    def _client(self, number: int) -> None:
        session = requests.Session()
        session.headers.update(ADMIN)
        while not self.stop.is_set():
            data = raw_disk(64 * 1024)
            tag = uuid.uuid4().hex  # written by either release, found by both
            steps = [("post", "/v2/images", {"json": {"name": f"t{number}", "disk_format": "raw",
                                                      "container_format": "bare",
                                                      "tags": [tag]}}, 201)]
            step = "POST /v2/images"
            try:
                answer = session.post(f"{self.url}/v2/images", timeout=30, **steps[0][2])
                self._note("POST /v2/images", answer, 201)
                if answer.status_code != 201:
                    continue
                image = answer.json()["id"]
                for method, path, kwargs, expected in (
                        ("put", f"/v2/images/{image}/file",
                         {"data": data, "headers": {"Content-Type": "application/octet-stream"}},
                         204),
                        ("get", f"/v2/images/{image}/file", {}, 200),
                        ("get", "/v2/images?limit=3", {}, 200),
                        ("get", f"/v2/images?tag={tag}", {}, 200),
                        ("delete", f"/v2/images/{image}", {}, 204)):
                    step = f"{method.upper()} {path}"
                    answer = session.request(method, f"{self.url}{path}", timeout=30, **kwargs)
                    self._note(f"{method.upper()} {path}", answer, expected)
                    if method == "get" and path.endswith("/file") and answer.content != data:
                        self.failures.append(f"GET {path}: the data differs")
                    if path.endswith(f"tag={tag}") and answer.ok and \
                            [found["id"] for found in answer.json()["images"]] != [image]:
                        self.failures.append(f"GET {path}: {image} not listed by its tag")
            except requests.RequestException as exc:
                self.failures.append(f"{step} at {time.monotonic() - self.started:.1f}s: "
                                     f"{type(exc).__name__}: {exc}")

    def _note(self, what: str, answer, expected: int) -> None:
        self.done += 1
        if answer.status_code != expected:
            self.failures.append(f"{what} -> {answer.status_code} {answer.text[:200]}")

    def finish(self) -> None:
        self.stop.set()
        for future in self.futures:
            future.result()
        self.pool.shutdown()


def _drain_and_replace(balancer: Haproxy, index: int, node: ApiServer, traffic: Traffic,
                       new_release: bool) -> None:
    """As an operator: the drain file takes the node out of rotation (its health check
    fails), requests go on at the other node, then it is stopped (SIGTERM: gunicorn
    finishes what it serves), started (on this release, for an upgrade) and put back."""
    open(node.drain_file, "w").close()
    balancer.wait_for(index, "DOWN")
    before = traffic.done
    time.sleep(0.5)  # requests still flow, all to the other node
    assert traffic.done > before
    node.stop()
    os.remove(node.drain_file)
    if new_release:
        node.release_dir = None
    node.start()
    balancer.wait_for(index, "UP")


def test_upgrade_then_rolling_restart_fail_no_request(cluster):
    balancer, nodes = cluster
    traffic = Traffic(balancer.url)
    try:
        time.sleep(1)
        # the upgrade, one node at a time; the first new node applies the expand
        # migrations while the other still runs the previous release on the same database
        for index, node in enumerate(nodes):
            _drain_and_replace(balancer, index, node, traffic, new_release=True)
            time.sleep(0.5)
        # then a rolling restart of the new release
        for index, node in enumerate(nodes):
            _drain_and_replace(balancer, index, node, traffic, new_release=False)
        time.sleep(1)
    finally:
        traffic.finish()
    print(f"\n{traffic.done} requests through the upgrade and the rolling restart")
    assert traffic.done > 100
    assert traffic.failures == [], traffic.failures[:10]
