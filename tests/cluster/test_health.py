"""/healthcheck tells the truth: oslo.middleware's, with the database and the default
store checked, and a node drained by a file as Glance's disable_by_file does."""

from __future__ import annotations

import os

import pytest
import requests

from harness import ApiServer


@pytest.fixture
def node(tmp_path):
    drain = tmp_path / "healthcheck_disable"
    server = ApiServer(str(tmp_path / "api"), workers=1, obey_file_modes=True,
                       extra_conf=f"[healthcheck]\ndisable_by_file_path = {drain}\n").start()
    server.drain_file = str(drain)
    yield server
    server.stop()


def test_healthy_node_answers_as_glance(node):
    answer = requests.get(f"{node.url}/healthcheck")
    assert (answer.status_code, answer.text) == (200, "OK")
    assert requests.head(f"{node.url}/healthcheck").status_code == 204
    as_json = requests.get(f"{node.url}/healthcheck", headers={"Accept": "application/json"})
    assert as_json.json()["detailed"] is False and "OK" in as_json.json()["reasons"]


def test_a_drain_file_takes_the_node_out_and_back(node):
    open(node.drain_file, "w").close()
    drained = requests.get(f"{node.url}/healthcheck")
    assert (drained.status_code, drained.text) == (503, "DISABLED BY FILE")
    # draining only tells the balancer: requests that still arrive are served
    assert requests.get(f"{node.url}/v2/images").status_code == 200
    os.remove(node.drain_file)
    assert requests.get(f"{node.url}/healthcheck").status_code == 200


def test_an_unusable_default_store_is_unhealthy(node):
    os.chmod(node.datadir, 0o500)  # glance cannot write it any more
    try:
        sick = requests.get(f"{node.url}/healthcheck")
        assert sick.status_code == 503
        assert "default store file unusable" in sick.text, sick.text
    finally:
        os.chmod(node.datadir, 0o750)
    assert requests.get(f"{node.url}/healthcheck").status_code == 200


def test_an_ipv6_bind_host_serves(tmp_path):
    server = ApiServer(str(tmp_path / "v6"), workers=1, bind_host="::1").start()
    try:
        assert server.url.startswith("http://[::1]:")
        assert requests.get(f"{server.url}/healthcheck").status_code == 200
        assert requests.get(f"{server.url}/v2/images").status_code == 200
    finally:
        server.stop()


def test_details_are_for_admins(node):
    from helpers import ADMIN, identity
    member = requests.get(f"{node.url}/healthcheck?detailed",
                          headers={**identity("demo", "member,reader"),
                                   "Accept": "application/json"})
    assert member.status_code == 403 and "admin" in member.json()["message"]
    admin = requests.get(f"{node.url}/healthcheck?detailed", headers=ADMIN)
    assert admin.status_code == 200, admin.text
    detail = admin.json()
    assert detail["healthy"] is True and detail["stores"]["file"] == "OK"
    assert detail["database"]["state"] == "OK"
    assert detail["database"]["connections_max"] == 15  # 5 kept + 10 overflow
    open(node.drain_file, "w").close()
    drained = requests.get(f"{node.url}/healthcheck?detailed", headers=ADMIN)
    assert drained.status_code == 503 and drained.json()["drained"] is True
    os.remove(node.drain_file)
