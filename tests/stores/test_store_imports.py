"""Locations in Swift and S3, and imports across real backends."""

import hashlib
import os
import uuid

import pytest

from helpers import ADMIN, Client, wait_for_task

MiB = 1024 * 1024


@pytest.fixture
def admin(multistore_api):
    return Client(multistore_api.url, ADMIN)


def test_s3_object_registered_as_a_location(admin, s3_client, s3_service):
    payload = os.urandom(MiB + 17)
    key = f"registered-{uuid.uuid4()}"
    s3_client.put_object(Bucket="glance-images", Key=key, Body=payload)
    endpoint = s3_service.env["S3_ENDPOINT"].split("//", 1)[1]
    image = admin.create_image()
    response = admin.post(f"/v2/images/{image['id']}/locations", json={
        "url": f"s3+http://{endpoint}/glance-images/{key}", "metadata": {"store": "s3"}})
    assert response.status_code == 202, response.text
    shown = admin.get(f"/v2/images/{image['id']}").json()
    assert shown["status"] == "active" and shown["size"] == len(payload)
    assert shown["stores"] == "s3"
    assert admin.get(f"/v2/images/{image['id']}/file").content == payload


def test_swift_object_registered_as_a_location(admin, swift_client):
    payload = os.urandom(300_000)
    name = f"registered-{uuid.uuid4()}"
    swift_client.put_object("glance", name, payload)
    image = admin.create_image()
    response = admin.post(f"/v2/images/{image['id']}/locations", json={
        "url": f"swift+config://obj/glance/{name}", "metadata": {"store": "obj"}})
    assert response.status_code == 202, response.text
    assert admin.get(f"/v2/images/{image['id']}").json()["size"] == len(payload)
    assert admin.get(f"/v2/images/{image['id']}/file").content == payload


def test_missing_s3_object_is_refused(admin, s3_service):
    endpoint = s3_service.env["S3_ENDPOINT"].split("//", 1)[1]
    image = admin.create_image()
    response = admin.post(f"/v2/images/{image['id']}/locations", json={
        "url": f"s3+http://{endpoint}/glance-images/no-such-key", "metadata": {"store": "s3"}})
    assert response.status_code == 400, response.text
    assert admin.get(f"/v2/images/{image['id']}").json()["status"] == "queued"


def test_import_to_s3_and_swift_then_copy_to_a_file_store(admin, s3_client, swift_client):
    payload = os.urandom(7 * MiB + 5)  # above both stores' large-object sizes in this config
    image = admin.create_image()
    stage = admin.put(f"/v2/images/{image['id']}/stage", data=payload,
                      headers={"Content-Type": "application/octet-stream"})
    assert stage.status_code == 204, stage.text
    response = admin.post(f"/v2/images/{image['id']}/import", json={
        "method": {"name": "glance-direct"}, "stores": ["s3", "obj"]})
    assert response.status_code == 202, response.text
    task = wait_for_task(admin, image["id"], timeout=120)
    assert task["status"] == "success", task["message"]
    shown = admin.get(f"/v2/images/{image['id']}").json()
    assert sorted(shown["stores"].split(",")) == ["obj", "s3"]
    assert shown["os_hash_value"] == hashlib.sha512(payload).hexdigest()
    body = s3_client.get_object(Bucket="glance-images", Key=image["id"])["Body"].read()
    assert body == payload
    _, swift_body = swift_client.get_object("glance", image["id"])
    assert swift_body == payload
    response = admin.post(f"/v2/images/{image['id']}/import", json={
        "method": {"name": "copy-image"}, "stores": ["fast"]})
    assert response.status_code == 202, response.text
    assert wait_for_task(admin, image["id"], timeout=120)["status"] == "success"
    assert sorted(admin.get(f"/v2/images/{image['id']}").json()["stores"].split(",")) == \
        ["fast", "obj", "s3"]
    assert admin.get(f"/v2/images/{image['id']}/file").content == payload
    assert admin.delete(f"/v2/images/{image['id']}").status_code == 204
    assert s3_client.list_objects_v2(Bucket="glance-images", Prefix=image["id"]).get("KeyCount", 0) == 0
    assert swift_client.get_container("glance", prefix=image["id"])[1] == []


def test_copy_to_a_failing_store_leaves_no_partial_object(admin, s3_proxy, s3_client):
    warm = admin.create_image()  # the bucket exists and the credentials work
    assert admin.upload(warm["id"], b"warm-up", headers={"X-Image-Meta-Store": "s3flaky"}).ok
    image = admin.create_image()
    payload = os.urandom(12 * MiB)
    assert admin.upload(image["id"], payload, headers={"X-Image-Meta-Store": "fast"}).ok
    s3_proxy.fail_requests_over = 3 * MiB
    try:
        response = admin.post(f"/v2/images/{image['id']}/import", json={
            "method": {"name": "copy-image"}, "stores": ["s3flaky"]})
        assert response.status_code == 202, response.text
        task = wait_for_task(admin, image["id"], timeout=120)
    finally:
        s3_proxy.fail_requests_over = None
    assert task["status"] == "failure" and "s3flaky" in task["message"]
    shown = admin.get(f"/v2/images/{image['id']}").json()
    assert shown["status"] == "active" and shown["stores"] == "fast"
    assert shown["os_glance_failed_import"] == "s3flaky"
    assert s3_client.list_objects_v2(Bucket="glance-images-flaky",
                                     Prefix=image["id"]).get("KeyCount", 0) == 0
    uploads = s3_client.list_multipart_uploads(Bucket="glance-images-flaky").get("Uploads", [])
    assert [u for u in uploads if u["Key"].startswith(image["id"])] == []
