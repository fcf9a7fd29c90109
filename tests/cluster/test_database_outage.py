"""The metadata database restarts under a running API, and several nodes share one.

Each test starts its own PostgreSQL (the suite's shared one must not be stopped) and
API servers on 127.0.0.1.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import threading
import time

import pytest
import requests

from harness import ApiServer, Haproxy, Postgres, raw_disk
from helpers import ADMIN, Client


@pytest.fixture
def own_postgres(tmp_path):
    server = Postgres(str(tmp_path / "pg"), max_connections=40).start()
    yield server
    server.stop()


def _client(server: ApiServer) -> Client:
    return Client(server.url, ADMIN, project="admin")


def _until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout}s; last: {last!r}")


def test_api_rides_through_a_postgresql_restart(tmp_path, own_postgres):
    api = ApiServer(str(tmp_path / "api"), own_postgres.new_database(), workers=2).start()
    try:
        client = _client(api)
        before = client.create_image(name="before-restart", disk_format="raw",
                                     container_format="bare")
        # warm every worker's pool, so the restart breaks connections that are in it
        for _ in range(20):
            assert client.get("/v2/images").status_code == 200

        own_postgres.halt()
        down = client.get("/v2/images")
        assert down.status_code == 503, down.text
        assert "metadata database" in down.json()["message"]
        assert f"127.0.0.1:{own_postgres.port}" in down.json()["message"]
        assert down.headers.get("Retry-After")
        created = client.post("/v2/images", json={"name": "during-outage"})
        assert created.status_code == 503, created.text
        health = requests.get(f"{api.url}/healthcheck")  # a balancer takes the node out
        assert health.status_code == 503 and "metadata database" in health.text, health.text

        own_postgres.start()
        # every pooled connection died with the server: each must be replaced, not reused
        _until(lambda: client.get(f"/v2/images/{before['id']}").status_code == 200, 10,
               "the API answers again once PostgreSQL is back")
        assert requests.get(f"{api.url}/healthcheck").status_code == 200
        for _ in range(40):  # enough to reach every worker and every pooled connection
            assert client.get("/v2/images").status_code == 200
        after = client.create_image(name="after-restart", disk_format="raw",
                                    container_format="bare")
        assert client.upload(after["id"], b"x" * 1024).status_code == 204
        names = {image["name"] for image in client.get("/v2/images").json()["images"]}
        assert {"before-restart", "after-restart"} <= names
        assert "during-outage" not in names
    finally:
        api.stop()


def test_restart_with_no_request_during_the_outage(tmp_path, own_postgres):
    api = ApiServer(str(tmp_path / "api"), own_postgres.new_database(), workers=1).start()
    try:
        client = _client(api)
        for _ in range(10):
            assert client.get("/v2/images").status_code == 200
        own_postgres.halt()
        own_postgres.start()
        # the first request after the restart already works: a pooled connection is
        # checked as it leaves the pool
        first = client.get("/v2/images")
        assert first.status_code == 200, first.text
    finally:
        api.stop()


def test_three_nodes_stay_within_the_connection_budget(tmp_path, own_postgres):
    """3 nodes x 2 workers x (2 pooled + 3 overflow) = 30 connections, under a server
    allowing 40 (37 for ordinary users), with 64 clients at once: no errors at all."""
    url = own_postgres.new_database()
    pool = "[database]\nmax_pool_size = 2\nmax_overflow = 3\npool_timeout = 30\n"
    nodes = []
    try:
        for index in range(3):
            node = ApiServer(str(tmp_path / f"node{index}"), url, workers=2, extra_conf=pool)
            node.datadir = str(tmp_path / "images")  # one store for all, as a shared one
            nodes.append(node.start())
        peak = [0]
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                peak[0] = max(peak[0], own_postgres.connections())
                time.sleep(0.1)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()

        def client_work(index: int) -> list[str]:
            client = _client(nodes[index % 3])
            problems = []
            for round_ in range(8):
                created = client.post("/v2/images", json={"name": f"c{index}-{round_}",
                                                          "disk_format": "raw",
                                                          "container_format": "bare"})
                if created.status_code != 201:
                    problems.append(f"create {created.status_code} {created.text[:200]}")
                    continue
                image_id = created.json()["id"]
                for method, path, kwargs, expected in (
                        ("put", f"/v2/images/{image_id}/file",
                         {"data": raw_disk(4096),
                          "headers": {"Content-Type": "application/octet-stream"}}, 204),
                        ("get", f"/v2/images/{image_id}", {}, 200),
                        ("get", "/v2/images?limit=5", {}, 200),
                        ("get", f"/v2/images/{image_id}/file", {}, 200)):
                    answer = client.request(method, path, **kwargs)
                    if answer.status_code != expected:
                        problems.append(f"{method} {path} {answer.status_code} "
                                        f"{answer.text[:200]}")
            return problems

        with concurrent.futures.ThreadPoolExecutor(64) as clients:
            results = list(clients.map(client_work, range(64)))
        stop.set()
        watcher.join()
        problems = [problem for result in results for problem in result]
        assert problems == [], problems[:5]
        print(f"\npeak PostgreSQL connections of the three nodes: {peak[0]} (budget 30)")
        # 30 for the workers, and a master's while it checks a dead worker (none here)
        assert 0 < peak[0] <= 30
        assert len(_client(nodes[0]).get("/v2/images?limit=1000").json()["images"]) == 64 * 8
    finally:
        for node in nodes:
            node.stop()



def test_behind_haproxy_a_database_outage_is_named_not_anonymous(tmp_path, own_postgres):
    """Every node's check fails while PostgreSQL is down; HAProxy still lets the nodes
    answer: a 503 naming the database, and what needs no database is served."""
    url = own_postgres.new_database()
    nodes = [ApiServer(str(tmp_path / name), url, workers=1).start() for name in ("a", "b")]
    balancer = Haproxy(str(tmp_path / "lb"), nodes).start()
    try:
        for index in range(2):
            balancer.wait_for(index, "UP")
        client = Client(balancer.url, ADMIN, project="admin")
        assert client.get("/v2/images").status_code == 200
        own_postgres.halt()
        for index in range(2):
            balancer.wait_for(index, "DOWN")
        down = client.get("/v2/images")
        assert down.status_code == 503
        assert "metadata database" in down.json()["message"], down.text
        assert requests.get(f"{balancer.url}/versions").status_code == 200
        own_postgres.start()
        for index in range(2):
            balancer.wait_for(index, "UP")
        assert client.get("/v2/images").status_code == 200
    finally:
        balancer.stop()
        for node in nodes:
            node.stop()


def _whole_answer(sock) -> str:
    """One HTTP answer read to the end of its body (it may come in several segments)."""
    raw = b""
    while b"\r\n\r\n" not in raw:
        raw += sock.recv(65536)
    head, _, body = raw.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
    while len(body) < length:
        body += sock.recv(65536)
    return (head + b"\r\n\r\n" + body).decode(errors="replace")


def test_an_upload_finishing_while_the_database_is_down_is_settled(tmp_path, own_postgres):
    """The data is written but its image cannot be updated: a 503, and once PostgreSQL is
    back the image is queued again with no data left behind (nothing stuck in saving)."""
    api = ApiServer(str(tmp_path / "api"), own_postgres.new_database(), workers=1).start()
    try:
        client = _client(api)
        image = client.create_image(name="cut", disk_format="raw", container_format="bare")
        data = os.urandom(4 * 1024 * 1024)
        with client.start_raw_upload(image["id"], len(data), data[:1024 * 1024]) as sock:
            _until(lambda: client.get(f"/v2/images/{image['id']}").json()["status"] == "saving",
                   10, "the upload holds the image")
            own_postgres.halt()
            sock.sendall(data[1024 * 1024:])
            sock.settimeout(30)
            reply = _whole_answer(sock)
        assert reply.startswith("HTTP/1.1 503"), reply[:300]
        assert "metadata database" in reply
        own_postgres.start()
        _until(lambda: client.get(f"/v2/images/{image['id']}").json()["status"] == "queued",
               20, "the image is queued again once the database answers")
        _until(lambda: os.listdir(api.datadir) == [], 10, "its data is removed")
        assert client.upload(image["id"], data).status_code == 204
        assert client.get(f"/v2/images/{image['id']}/file").content == data
    finally:
        api.stop()
