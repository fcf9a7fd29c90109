"""JSON-patch on /locations, with show_multiple_locations and show_image_direct_url on."""

import os

import pytest

from harness import ApiServer, StaticHttpServer
from helpers import ADMIN, Client, identity


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    api = ApiServer(str(tmp_path_factory.mktemp("locpatch")), extra_conf=f"""
        [DEFAULT]
        show_multiple_locations = true
        show_image_direct_url = true
        image_location_quota = 3
        [glancelab]
        file_location_dirs = {tmp_path_factory.getbasetemp()}
        """).start()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    root = tmp_path_factory.mktemp("locweb")
    payload = os.urandom(300_001)
    for name in ("a.raw", "b.raw"):
        (root / name).write_bytes(payload)
    (root / "other.raw").write_bytes(b"x" * 10)
    server = StaticHttpServer(str(root))
    server.payload = payload
    yield server
    server.stop()


@pytest.fixture
def admin(server):
    return Client(server.url, ADMIN)


def test_add_location_activates_a_queued_image_and_shows_it(admin, web):
    image = admin.create_image()
    url = f"{web.url}/a.raw"
    response = admin.patch(f"/v2/images/{image['id']}", [
        {"op": "add", "path": "/locations/-", "value": {"url": url, "metadata": {"tier": "web"}}}])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "active" and body["size"] == len(web.payload)
    assert body["locations"] == [{"url": url, "metadata": {"tier": "web"}}]
    assert body["direct_url"] == url
    assert admin.get(f"/v2/images/{image['id']}/file").content == web.payload


def test_second_location_then_remove_first(admin, web):
    image = admin.create_image()
    first, second = f"{web.url}/a.raw", f"{web.url}/b.raw"
    assert admin.patch(f"/v2/images/{image['id']}", [
        {"op": "add", "path": "/locations/-", "value": {"url": first, "metadata": {}}}]).ok
    response = admin.patch(f"/v2/images/{image['id']}", [
        {"op": "add", "path": "/locations/0", "value": {"url": second, "metadata": {}}}])
    assert [loc["url"] for loc in response.json()["locations"]] == [second, first]
    response = admin.patch(f"/v2/images/{image['id']}", [{"op": "remove", "path": "/locations/0"}])
    assert response.status_code == 200, response.text
    assert [loc["url"] for loc in response.json()["locations"]] == [first]
    last = admin.patch(f"/v2/images/{image['id']}", [{"op": "remove", "path": "/locations/0"}])
    assert last.status_code == 403 and "last location" in last.json()["message"]


def test_replace_swaps_the_list_and_keeps_uploaded_data_consistent(admin, web, server):
    image = admin.create_image()
    assert admin.upload(image["id"], web.payload).status_code == 204
    stored = os.path.join(server.datadir, image["id"])
    assert os.path.exists(stored)
    response = admin.patch(f"/v2/images/{image['id']}", [
        {"op": "replace", "path": "/locations",
         "value": [{"url": f"{web.url}/b.raw", "metadata": {}}]}])
    assert response.status_code == 200, response.text
    assert response.json()["direct_url"] == f"{web.url}/b.raw"
    assert not os.path.exists(stored)  # our copy is dropped with its location
    assert admin.get(f"/v2/images/{image['id']}/file").content == web.payload


@pytest.mark.parametrize("ops, status, words", [
    ([{"op": "add", "path": "/locations/-", "value": {"url": "URL/other.raw", "metadata": {}}}],
     400, "sizes differ"),
    ([{"op": "add", "path": "/locations/-", "value": {"url": "URL/a.raw", "metadata": {}}}],
     400, "listed twice"),
    ([{"op": "remove", "path": "/locations/5"}], 400, "Invalid location index"),
    ([{"op": "add", "path": "/locations/x", "value": {"url": "URL/b.raw"}}], 400,
     "Invalid JSON pointer"),
    ([{"op": "add", "path": "/locations/-", "value": {"url": "URL/nope.raw", "metadata": {}}}],
     400, "404"),
    ([{"op": "add", "path": "/locations/-", "value": {"url": "URL/b.raw", "metadata": {}}},
      {"op": "replace", "path": "/name", "value": 5}], 400, "name"),
])
def test_bad_location_patches_change_nothing(admin, web, ops, status, words):
    image = admin.create_image()
    url = f"{web.url}/a.raw"
    assert admin.patch(f"/v2/images/{image['id']}", [
        {"op": "add", "path": "/locations/-", "value": {"url": url, "metadata": {}}}]).ok
    for op in ops:
        if isinstance(op.get("value"), dict) and "url" in op["value"]:
            op["value"]["url"] = op["value"]["url"].replace("URL", web.url)
    response = admin.patch(f"/v2/images/{image['id']}", ops)
    assert response.status_code == status, response.text
    assert words in response.json()["message"]
    shown = admin.get(f"/v2/images/{image['id']}").json()
    assert [loc["url"] for loc in shown["locations"]] == [url]
    assert shown["name"] == image["name"]


def test_location_quota_holds_on_patch(admin, web):
    image = admin.create_image()
    urls = [f"{web.url}/a.raw", f"{web.url}/b.raw", f"{web.url}/a.raw?1", f"{web.url}/a.raw?2"]
    response = admin.patch(f"/v2/images/{image['id']}", [
        {"op": "replace", "path": "/locations", "value": [{"url": u, "metadata": {}} for u in urls]}])
    assert response.status_code == 413, response.text
    assert admin.get(f"/v2/images/{image['id']}").json()["status"] == "queued"


def test_only_admins_patch_locations(server, web):
    alice = Client(server.url, identity("project-alice"))
    image = alice.create_image()
    response = alice.patch(f"/v2/images/{image['id']}", [
        {"op": "add", "path": "/locations/-", "value": {"url": f"{web.url}/a.raw", "metadata": {}}}])
    assert response.status_code == 403


def test_location_patch_is_refused_while_locations_are_hidden(admin_default, web):
    image = admin_default.create_image()
    response = admin_default.patch(f"/v2/images/{image['id']}", [
        {"op": "add", "path": "/locations/-", "value": {"url": f"{web.url}/a.raw", "metadata": {}}}])
    assert response.status_code == 403
    assert "show_multiple_locations" in response.json()["message"]


@pytest.fixture
def admin_default(api):
    return Client(api.url, ADMIN)


def test_deleting_an_image_keeps_registered_host_files(admin, tmp_path):
    snapshot = tmp_path / "snap.img"
    snapshot.write_bytes(b"s" * 4096)
    image = admin.create_image()
    assert admin.post(f"/v2/images/{image['id']}/locations",
                      json={"url": f"file://{snapshot}"}).status_code == 202
    assert admin.delete(f"/v2/images/{image['id']}").status_code == 204
    assert snapshot.read_bytes() == b"s" * 4096
