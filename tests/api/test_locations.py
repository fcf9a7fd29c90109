"""Images whose data stays where it is: http(s) and file locations."""

import hashlib
import os

import pytest

from harness import StaticHttpServer

pytestmark = pytest.mark.keystone_mode


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    root = tmp_path_factory.mktemp("web")
    (root / "disk.raw").write_bytes(os.urandom(2 * 1024 * 1024 + 7))
    server = StaticHttpServer(str(root))
    server.root = root
    yield server
    server.stop()


def test_http_location_makes_a_downloadable_image(admin, alice, web):
    payload = (web.root / "disk.raw").read_bytes()
    image = admin.create_image(visibility="public")
    url = f"{web.url}/disk.raw"
    response = admin.post(f"/v2/images/{image['id']}/locations", json={
        "url": url, "validation_data": {"os_hash_algo": "sha512",
                                        "os_hash_value": hashlib.sha512(payload).hexdigest()}})
    assert response.status_code == 202, response.text
    shown = alice.get(f"/v2/images/{image['id']}").json()
    assert shown["status"] == "active" and shown["size"] == len(payload)
    assert shown["os_hash_value"] == hashlib.sha512(payload).hexdigest()
    assert alice.get(f"/v2/images/{image['id']}/file").content == payload
    ranged = alice.get(f"/v2/images/{image['id']}/file", headers={"Range": "bytes=1000-1999"})
    assert ranged.status_code == 206 and ranged.content == payload[1000:2000]
    assert admin.delete(f"/v2/images/{image['id']}").status_code == 204
    assert (web.root / "disk.raw").exists()  # the web server's data is not ours to delete


def test_file_location_registers_host_data_without_copying(admin, tmp_path, api):
    snapshot = tmp_path / "snapshot.img"
    snapshot.write_bytes(b"snapshot bytes" * 1000)
    image = admin.create_image(block_device_mapping='[{"source_type": "snapshot"}]')
    response = admin.post(f"/v2/images/{image['id']}/locations", json={"url": f"file://{snapshot}"})
    assert response.status_code == 202, response.text
    shown = admin.get(f"/v2/images/{image['id']}").json()
    assert shown["status"] == "active" and shown["size"] == snapshot.stat().st_size
    assert admin.get(f"/v2/images/{image['id']}/file").content == snapshot.read_bytes()
    assert image["id"] not in os.listdir(api.datadir)  # nothing was copied


def test_locations_are_admin_only_and_need_a_queued_image(admin, alice, web):
    image = alice.create_image()
    url = f"{web.url}/disk.raw"
    assert alice.post(f"/v2/images/{image['id']}/locations", json={"url": url}).status_code == 403
    assert admin.post(f"/v2/images/{image['id']}/locations", json={"url": url}).status_code == 202
    response = admin.post(f"/v2/images/{image['id']}/locations", json={"url": url})
    assert response.status_code == 409


def test_a_refused_location_is_never_fetched(admin, alice, bob, web):
    """identity, the image, permission, its state: all before the URL is touched."""
    image = alice.create_image()
    active = admin.create_image()
    admin.upload(active["id"], b"data")
    before = len(web.hits)
    url = f"{web.url}/disk.raw?probe"
    assert alice.post(f"/v2/images/{image['id']}/locations", json={"url": url}).status_code == 403
    assert bob.post(f"/v2/images/{image['id']}/locations", json={"url": url}).status_code == 404
    random_id = "00000000-0000-4000-8000-000000000000"
    assert admin.post(f"/v2/images/{random_id}/locations", json={"url": url}).status_code == 404
    assert admin.post(f"/v2/images/{active['id']}/locations", json={"url": url}).status_code == 409
    patch = [{"op": "add", "path": "/locations/-", "value": {"url": url, "metadata": {}}}]
    assert bob.patch(f"/v2/images/{image['id']}", patch).status_code == 404
    assert alice.patch(f"/v2/images/{image['id']}", patch).status_code == 403
    assert [hit for hit in web.hits[before:] if "probe" in hit] == []


@pytest.mark.parametrize("body, status", [
    ({"url": "http://127.0.0.1:1/missing"}, 503),
    ({}, 400),
    ({"url": 5}, 400),
    ({"url": "gopher://127.0.0.1/x"}, 400),
])
def test_bad_locations(admin, body, status):
    image = admin.create_image()
    response = admin.post(f"/v2/images/{image['id']}/locations", json=body)
    assert response.status_code == status, response.text
    assert admin.get(f"/v2/images/{image['id']}").json()["status"] == "queued"


def test_missing_web_file_is_400(admin, web):
    image = admin.create_image()
    response = admin.post(f"/v2/images/{image['id']}/locations", json={"url": f"{web.url}/nope"})
    assert response.status_code == 400
    assert "404" in response.json()["message"]


def test_block_device_location_serves_the_device(admin, block_device):
    device, payload = block_device
    image = admin.create_image()
    response = admin.post(f"/v2/images/{image['id']}/locations", json={"url": f"file://{device}"})
    assert response.status_code == 202, response.text
    shown = admin.get(f"/v2/images/{image['id']}").json()
    assert shown["status"] == "active" and shown["size"] == len(payload)
    assert admin.get(f"/v2/images/{image['id']}/file").content == payload
    ranged = admin.get(f"/v2/images/{image['id']}/file", headers={"Range": "bytes=-100"})
    assert ranged.status_code == 206 and ranged.content == payload[-100:]
    assert admin.delete(f"/v2/images/{image['id']}").status_code == 204
    with open(device, "rb") as handle:  # the device is not ours to wipe
        assert handle.read(4096) == payload[:4096]


def test_get_locations_is_for_the_service_role_and_admins(admin, alice, api):
    from helpers import as_member
    image = alice.create_image()
    assert alice.upload(image["id"], b"x" * 1024).status_code == 204
    service = as_member(api, "project-alice", roles="service,reader")
    listed = service.get(f"/v2/images/{image['id']}/locations")
    assert listed.status_code == 200, listed.text
    [location] = listed.json()
    assert location["url"].startswith("file://") and location["url"].endswith(image["id"])
    assert isinstance(location["metadata"], dict)
    assert admin.get(f"/v2/images/{image['id']}/locations").json() == listed.json()
    owner = alice.get(f"/v2/images/{image['id']}/locations")
    assert owner.status_code == 403 and "fetch_image_location" in owner.json()["message"]
    missing = admin.get("/v2/images/00000000-0000-0000-0000-000000000000/locations")
    assert missing.status_code == 404


def test_file_locations_are_confined_to_the_configured_directories(admin, api, tmp_path):
    """Only under [glancelab] file_location_dirs, resolved, on this host, not a store's."""
    inside = tmp_path / "snap.img"
    inside.write_bytes(b"x" * 1000)
    escape = tmp_path / "escape.img"
    escape.symlink_to("/etc/passwd")
    own_db = os.path.join(api.workdir, "glance.sqlite")  # the service's own database
    for url in ("file:///etc/shadow", "file:///etc/passwd", f"file://{own_db}",
                f"file://{api.config_path}", f"file://{tmp_path}/../../../../etc/passwd",
                f"file://{escape}", f"file://otherhost{inside}", "file:///nonexistent/x"):
        image = admin.create_image()
        response = admin.post(f"/v2/images/{image['id']}/locations", json={"url": url})
        assert response.status_code == 400, (url, response.text)
        # the same words whether or not the file exists
        assert "No such file" not in response.text and "Permission" not in response.text
        assert admin.get(f"/v2/images/{image['id']}").json()["status"] == "queued"
    stored = admin.create_image()
    assert admin.upload(stored["id"], b"stored data").status_code == 204
    image = admin.create_image()
    into_store = f"file://{api.datadir}/{stored['id']}"
    response = admin.post(f"/v2/images/{image['id']}/locations", json={"url": into_store})
    assert response.status_code == 400  # outside the directories, and a store's own data
    image = admin.create_image()
    response = admin.post(f"/v2/images/{image['id']}/locations", json={"url": f"file://{inside}"})
    assert response.status_code == 202, response.text
