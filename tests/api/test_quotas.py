"""Quotas at their edges: exactly at the limit, one byte over, chunked, in parallel."""

import concurrent.futures
import os
import subprocess
import uuid

import pytest

from harness import GLANCELAB, ApiServer
from helpers import ADMIN, Client, identity

MiB = 1024 * 1024
QUOTA = 3 * MiB


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def quota_api(request, tmp_path_factory):
    database_url = None
    if request.param == "postgresql":
        database_url = request.getfixturevalue("postgres").new_database()
    server = ApiServer(str(tmp_path_factory.mktemp(f"quota-{request.param}")), database_url,
                       extra_conf="""
        [DEFAULT]
        user_storage_quota = 3MB
        image_property_quota = 3
        image_tag_quota = 2
        image_member_quota = 2
        image_location_quota = 1
        use_keystone_limits = true

        [glancelab_limits]
        image_count_total = 20
        """)
    yield server.start()
    server.stop()


@pytest.fixture
def project(quota_api):
    """A fresh project per test, so usage starts at zero."""
    return Client(quota_api.url, identity(f"p-{uuid.uuid4().hex[:8]}"))


def chunked(size, piece=256 * 1024):
    data = os.urandom(size)
    return iter([data[i:i + piece] for i in range(0, size, piece)])


def no_data_left(server, image_id):
    return not any(image_id in name for name in os.listdir(server.datadir))


def test_upload_exactly_at_the_quota_succeeds(project):
    image = project.create_image()
    assert project.upload(image["id"], os.urandom(QUOTA)).status_code == 204
    second = project.create_image()
    response = project.upload(second["id"], b"x")
    assert response.status_code == 413
    assert "0 bytes remaining" in response.json()["message"]
    assert "user_storage_quota" in response.json()["message"]


def test_one_byte_over_with_content_length_is_refused_up_front(project, quota_api):
    image = project.create_image()
    response = project.upload(image["id"], os.urandom(QUOTA + 1))
    assert response.status_code == 413
    assert f"{QUOTA} bytes remaining" in response.json()["message"]
    shown = project.get(f"/v2/images/{image['id']}").json()
    assert shown["status"] == "queued" and shown["size"] is None
    assert no_data_left(quota_api, image["id"])


def test_an_announced_size_over_the_quota_is_refused_before_the_data(project, quota_api):
    """API 2.18's x-openstack-image-size: a chunked upload (no Content-Length) is judged
    by the size it announces, before its first byte is read."""
    image = project.create_image()
    sent = []

    def body():
        for chunk in chunked(QUOTA + 1):
            sent.append(len(chunk))
            yield chunk

    response = project.upload(image["id"], body(),
                              headers={"x-openstack-image-size": str(QUOTA + 1)})
    assert response.status_code == 413, response.text
    assert f"{QUOTA} bytes remaining" in response.json()["message"]
    assert project.get(f"/v2/images/{image['id']}").json()["status"] == "queued"
    assert no_data_left(quota_api, image["id"])


def test_chunked_upload_stops_mid_stream_one_byte_over(project, quota_api):
    image = project.create_image()
    response = project.upload(image["id"], chunked(QUOTA + 1))
    assert response.status_code == 413
    assert "bytes remaining" in response.json()["message"]
    assert project.get(f"/v2/images/{image['id']}").json()["status"] == "queued"
    assert no_data_left(quota_api, image["id"])
    # The reservation was given back: the full quota is still there.
    assert project.upload(image["id"], chunked(QUOTA)).status_code == 204


def test_chunked_upload_exactly_at_the_quota(project):
    image = project.create_image()
    assert project.upload(image["id"], chunked(QUOTA)).status_code == 204
    assert project.get(f"/v2/images/{image['id']}").json()["size"] == QUOTA


def test_parallel_uploads_cannot_exceed_the_quota_together(project, quota_api):
    images = [project.create_image() for _ in range(3)]
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda img: project.upload(img["id"], chunked(int(1.5 * MiB))),
                                images))
    codes = [r.status_code for r in results]
    # All three cannot fit; which ones get through depends on timing, never the total.
    assert set(codes) <= {204, 413} and 413 in codes, codes
    shown = [project.get(f"/v2/images/{i['id']}").json() for i in images]
    assert sum(image["size"] or 0 for image in shown) <= QUOTA
    for code, image in zip(codes, shown):
        assert image["status"] == ("active" if code == 204 else "queued")
    assert all(no_data_left(quota_api, i["id"]) for c, i in zip(codes, images) if c == 413)


def test_parallel_small_uploads_that_fit_all_succeed(project):
    images = [project.create_image() for _ in range(3)]
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda img: project.upload(img["id"], chunked(MiB)), images))
    assert [r.status_code for r in results] == [204, 204, 204]


def test_deleting_frees_quota(project):
    image = project.create_image()
    project.upload(image["id"], os.urandom(QUOTA))
    project.delete(f"/v2/images/{image['id']}")
    again = project.create_image()
    assert project.upload(again["id"], os.urandom(QUOTA)).status_code == 204


def test_property_tag_member_location_quotas(project, quota_api):
    response = project.post("/v2/images", json={"a": "1", "b": "2", "c": "3", "d": "4"})
    assert response.status_code == 413
    assert "Attempted: 4, Maximum: 3" in response.json()["message"]
    image = project.create_image(a="1", b="2", c="3", tags=["x", "y"])
    response = project.patch(f"/v2/images/{image['id']}", [{"op": "add", "path": "/d", "value": "4"}])
    assert response.status_code == 413
    assert project.put(f"/v2/images/{image['id']}/tags/z").status_code == 413
    assert project.put(f"/v2/images/{image['id']}/tags/x").status_code == 204  # already there
    members = f"/v2/images/{image['id']}/members"
    assert project.post(members, json={"member": "m1"}).status_code == 200
    assert project.post(members, json={"member": "m2"}).status_code == 200
    assert project.post(members, json={"member": "m3"}).status_code == 413


def test_usage_and_per_project_limits(project, quota_api):
    admin = Client(quota_api.url, ADMIN)
    project_id = project.session.headers["X-Project-Id"]
    image = project.create_image()
    project.upload(image["id"], os.urandom(MiB))
    usage = project.get("/v2/info/usage").json()["usage"]
    assert usage["image_size_total"] == {"limit": -1, "usage": 1}
    assert usage["image_count_total"] == {"limit": 20, "usage": 1}
    assert usage["image_count_uploading"]["usage"] == 0
    assert project.put(f"/v2/quotas/{project_id}", json={"image_count_total": 2}).status_code == 403
    response = admin.put(f"/v2/quotas/{project_id}", json={"image_count_total": 2,
                                                            "image_size_total": 2})
    assert response.status_code == 200
    assert response.json()["limits"]["image_count_total"] == 2
    project.create_image()
    response = project.post("/v2/images", json={"name": "third"})
    assert response.status_code == 413
    assert "image_count_total" in response.json()["message"]
    # image_size_total (MiB) binds before user_storage_quota here: 1 MiB used of 2.
    third = project.get("/v2/images").json()["images"][0]
    response = project.upload(third["id"], os.urandom(MiB + 1))
    assert response.status_code == 413
    assert "image_size_total" in response.json()["message"]
    assert admin.put(f"/v2/quotas/{project_id}", json={"image_count_total": "many"}).status_code == 400
    assert admin.put(f"/v2/quotas/{project_id}", json={"bogus": 1}).status_code == 400
    assert admin.delete(f"/v2/quotas/{project_id}").status_code == 204
    assert project.post("/v2/images", json={"name": "allowed again"}).status_code == 201


def test_quota_cli_reads_and_writes_the_same_limits(project, quota_api):
    project_id = project.session.headers["X-Project-Id"]
    run = lambda *args: subprocess.run([GLANCELAB, "--config", quota_api.config_path, "quota", *args],  # noqa: E731
                                       capture_output=True, text=True, cwd=quota_api.workdir, timeout=60)
    result = run("set", project_id, "--image-count-total", "5", "--image-size-total", "100")
    assert result.returncode == 0, result.stderr
    assert "image_count_total" in result.stdout and "limit 5" in result.stdout
    assert project.get("/v2/info/usage").json()["usage"]["image_count_total"]["limit"] == 5
    listed = run("list", "--json")
    assert project_id in listed.stdout
    assert run("set", project_id, "--image-count-total", "default").returncode == 0
    assert project.get("/v2/info/usage").json()["usage"]["image_count_total"]["limit"] == 20
    assert run("set", project_id, "--image-count-total", "-5").returncode == 2
