"""Behaviours of Glance 33 that glancelab once did differently, each done as the real
clients do it (runs on SQLite, PostgreSQL and, with real tokens, Keystone)."""

import concurrent.futures
import hashlib
import os
import uuid

import pytest

from helpers import as_member

pytestmark = pytest.mark.keystone_mode


def test_a_deleted_images_id_is_never_issued_again(admin, alice, bob):
    image_id = str(uuid.uuid4())
    assert alice.post("/v2/images", json={"id": image_id, "name": "first"}).status_code == 201
    assert alice.delete(f"/v2/images/{image_id}").status_code == 204
    for client in (alice, bob, admin):
        again = client.post("/v2/images", json={"id": image_id, "name": "taken over"})
        assert again.status_code == 409, again.text
        assert "already exists" in again.json()["message"]
    assert admin.get(f"/v2/images/{image_id}").status_code == 404


def test_concurrent_deletes_of_one_image_answer_one_204(alice):
    for _round in range(3):
        image = alice.create_image()
        assert alice.upload(image["id"], os.urandom(64 * 1024)).status_code == 204
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda _: alice.delete(f"/v2/images/{image['id']}")
                                    .status_code, range(6)))
        assert sorted(answers) == [204] + [404] * 5, answers


def test_formats_are_frozen_once_the_image_has_data(alice):
    image = alice.create_image(disk_format="raw", container_format="bare")
    # queued: still free to change
    changed = alice.patch(f"/v2/images/{image['id']}",
                          [{"op": "replace", "path": "/disk_format", "value": "qcow2"},
                           {"op": "replace", "path": "/disk_format", "value": "raw"}])
    assert changed.status_code == 200, changed.text
    assert alice.upload(image["id"], os.urandom(4096)).status_code == 204
    for field, value in (("disk_format", "qcow2"), ("container_format", "ovf")):
        refused = alice.patch(f"/v2/images/{image['id']}",
                              [{"op": "replace", "path": f"/{field}", "value": value}])
        assert refused.status_code == 403, refused.text
        assert f"{field} can be only replaced for a queued image" in refused.json()["message"]
    same = alice.patch(f"/v2/images/{image['id']}",
                       [{"op": "replace", "path": "/disk_format", "value": "raw"},
                        {"op": "replace", "path": "/name", "value": "renamed"}])
    assert same.status_code == 200 and same.json()["name"] == "renamed"


def test_an_import_with_stores_and_all_stores_is_400(alice):
    image = alice.create_image()
    response = alice.post(f"/v2/images/{image['id']}/import", json={
        "method": {"name": "glance-direct"}, "stores": ["file"], "all_stores": True})
    assert response.status_code == 400, response.text
    assert "All_stores parameter can't be used" in response.json()["message"]
    assert alice.get(f"/v2/images/{image['id']}").json()["status"] == "queued"


def test_the_service_role_lists_locations_of_any_image(api, alice):
    image = alice.create_image()
    assert alice.upload(image["id"], b"x" * 4096).status_code == 204
    nova = as_member(api, "project-compute", roles="service")
    listed = nova.get(f"/v2/images/{image['id']}/locations")
    assert listed.status_code == 200, listed.text
    assert [entry["metadata"].get("store", "file") for entry in listed.json()] == ["file"]
    # a member of another project still sees nothing of a private image
    stranger = as_member(api, "project-stranger")
    assert stranger.get(f"/v2/images/{image['id']}/locations").status_code == 404
    assert alice.get(f"/v2/images/{image['id']}/locations").status_code == 403


def test_x_openstack_image_size_is_checked_on_upload(alice):
    payload = os.urandom(100_000)
    image = alice.create_image()
    bad = alice.upload(image["id"], payload, headers={"x-openstack-image-size": "ten"})
    assert bad.status_code == 400
    assert "Invalid or missing image size in request headers." in bad.json()["message"]
    short = alice.upload(image["id"], payload,
                         headers={"x-openstack-image-size": str(len(payload) + 1)})
    assert short.status_code == 400, short.text
    assert "x-openstack-image-size" in short.json()["message"]
    assert alice.get(f"/v2/images/{image['id']}").json()["status"] == "queued"
    # streamed without Content-Length: the header is the size the store and quota use
    chunks = iter([payload[:50_000], payload[50_000:]])
    ok = alice.upload(image["id"], chunks,
                      headers={"x-openstack-image-size": str(len(payload))})
    assert ok.status_code == 204, ok.text
    shown = alice.get(f"/v2/images/{image['id']}").json()
    assert shown["size"] == len(payload)
    assert shown["checksum"] == hashlib.md5(payload).hexdigest()


def test_x_openstack_image_size_on_stage(alice):
    image = alice.create_image()
    response = alice.put(f"/v2/images/{image['id']}/stage", data=b"y" * 1000,
                         headers={"Content-Type": "application/octet-stream",
                                  "x-openstack-image-size": "999"})
    assert response.status_code == 400, response.text
    assert alice.get(f"/v2/images/{image['id']}").json()["status"] == "queued"


def test_prefer_on_a_single_store_api_is_400(alice):
    image = alice.create_image()
    assert alice.upload(image["id"], b"z" * 1000).status_code == 204
    response = alice.get(f"/v2/images/{image['id']}/file?prefer=fast")
    assert response.status_code == 400 and "single store" in response.json()["message"]


def test_a_quota_for_a_project_id_longer_than_255_is_400(admin):
    response = admin.put("/v2/quotas/" + "p" * 256, json={"image_count_total": 3})
    assert response.status_code == 400, response.text
    assert "255" in response.json()["message"]
