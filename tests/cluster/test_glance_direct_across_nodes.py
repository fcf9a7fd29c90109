"""glance-direct when the balancer sends PUT /stage to one node and POST /import (or the
DELETE) to another: the staging node is recorded and the request replayed to it."""

from __future__ import annotations

import hashlib
import os

import pytest

from harness import ApiServer, free_port
from helpers import ADMIN, Client, wait_for_task


@pytest.fixture
def two_nodes(tmp_path):
    """Two nodes on one database and one image store, each staging on its own disk."""
    database = f"sqlite:///{tmp_path}/shared.sqlite"
    nodes = []
    for name in ("a", "b"):
        port = free_port()
        node = ApiServer(str(tmp_path / name), database, workers=1, port=port,
                         extra_conf=f"""[DEFAULT]
                         worker_self_reference_url = http://127.0.0.1:{port}
                         node_staging_uri = file://{tmp_path / name / 'staging'}
                         """)
        node.datadir = str(tmp_path / "images")
        node.staging = str(tmp_path / name / "staging")
        nodes.append(node.start())
    yield nodes
    for node in nodes:
        node.stop()


def _stage(client: Client, data: bytes) -> str:
    image = client.create_image(name="staged", disk_format="raw", container_format="bare")
    staged = client.put(f"/v2/images/{image['id']}/stage", data=data,
                        headers={"Content-Type": "application/octet-stream"})
    assert staged.status_code == 204, staged.text
    return image["id"]


def test_stage_on_a_import_through_b(two_nodes):
    a, b = (Client(node.url, ADMIN, project="admin") for node in two_nodes)
    data = os.urandom(3 * 1024 * 1024)
    image_id = _stage(a, data)
    shown = b.get(f"/v2/images/{image_id}").json()
    assert shown["status"] == "uploading"
    assert "os_glance_stage_host" not in shown  # hidden, as in Glance
    assert os.path.exists(os.path.join(two_nodes[0].staging, image_id))

    answer = b.post(f"/v2/images/{image_id}/import", json={"method": {"name": "glance-direct"}})
    assert answer.status_code == 202, answer.text
    task = wait_for_task(b, image_id)
    assert task["status"] == "success", task
    image = b.get(f"/v2/images/{image_id}").json()
    assert image["status"] == "active"
    assert image["os_hash_value"] == hashlib.sha512(data).hexdigest()
    for client in (a, b):
        assert client.get(f"/v2/images/{image_id}/file").content == data
    assert not os.path.exists(os.path.join(two_nodes[0].staging, image_id))


def test_delete_through_b_removes_what_a_staged(two_nodes):
    a, b = (Client(node.url, ADMIN, project="admin") for node in two_nodes)
    image_id = _stage(a, b"x" * 4096)
    assert os.path.exists(os.path.join(two_nodes[0].staging, image_id))
    assert b.delete(f"/v2/images/{image_id}").status_code == 204
    assert a.get(f"/v2/images/{image_id}").status_code == 404
    assert not os.path.exists(os.path.join(two_nodes[0].staging, image_id))


def test_a_gone_staging_node_is_named(two_nodes):
    a, b = (Client(node.url, ADMIN, project="admin") for node in two_nodes)
    image_id = _stage(a, b"y" * 4096)
    kept = _stage(a, b"z" * 4096)
    two_nodes[0].stop()
    answer = b.post(f"/v2/images/{image_id}/import", json={"method": {"name": "glance-direct"}})
    assert answer.status_code == 503, answer.text
    assert two_nodes[0].url in answer.json()["message"]
    assert b.get(f"/v2/images/{image_id}").json()["status"] == "uploading"
    # a delete goes on without the staging node, as Glance's does
    assert b.delete(f"/v2/images/{image_id}").status_code == 204
    assert b.get(f"/v2/images/{image_id}").status_code == 404
    # the staging node back: what it staged imports as if nothing happened
    two_nodes[0].start()
    assert os.path.exists(os.path.join(two_nodes[0].staging, kept))
    answer = b.post(f"/v2/images/{kept}/import", json={"method": {"name": "glance-direct"}})
    assert answer.status_code == 202, answer.text
    assert wait_for_task(b, kept)["status"] == "success"
