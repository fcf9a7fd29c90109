"""Bad input gets the right 4xx, in Glance's error format, with a message that says why."""

import json

import pytest

pytestmark = pytest.mark.keystone_mode


def assert_error(response, status, fragment=""):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"].startswith(str(status))
    assert body["title"] and body["message"]
    assert fragment.lower() in body["message"].lower()


@pytest.mark.parametrize("raw", [b"{", b"{'name': 'x'}", b"[1, 2", b"\xff\xfe", b"nul"])
def test_malformed_json_is_400(alice, raw):
    response = alice.post("/v2/images", data=raw, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "Malformed JSON")


def test_empty_body_is_400(alice):
    response = alice.post("/v2/images", data=b"", headers={"Content-Type": "application/json"})
    assert_error(response, 400, "empty")


@pytest.mark.parametrize("body, fragment", [
    ({"name": 5}, "name"),
    ({"min_ram": "lots"}, "min_ram"),
    ({"min_disk": -1}, "min_disk"),
    ({"protected": "yes"}, "protected"),
    ({"visibility": "everyone"}, "visibility"),
    ({"disk_format": "exe"}, "disk_format"),
    ({"container_format": "zip"}, "container_format"),
    ({"tags": "not-a-list"}, "tags"),
    ({"tags": [1]}, "tags"),
    ({"name": "x" * 256}, "name"),
    ({"custom": 42}, "custom"),
    ({"custom": {"nested": "object"}}, "custom"),
])
def test_wrong_types_and_unknown_non_string_fields_are_400(alice, body, fragment):
    assert_error(alice.post("/v2/images", json=body), 400, fragment)


def test_body_must_be_an_object(alice):
    assert_error(alice.post("/v2/images", json=["name"]), 400, "JSON object")


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "1234", "00000000-0000-0000-0000-00000000000g"])
def test_bad_uuid_in_create_is_400(alice, bad_id):
    assert_error(alice.post("/v2/images", json={"id": bad_id}), 400, "id")


@pytest.mark.parametrize("path", ["/v2/images/not-a-uuid", "/v2/images/not-a-uuid/file",
                                  "/v2/images/not-a-uuid/members"])
def test_bad_uuid_in_path_is_404(alice, path):
    assert_error(alice.get(path), 404, "not-a-uuid")


def test_oversize_json_body_is_413(alice):
    body = json.dumps({"name": "x", "description": "y" * 70_000})
    response = alice.post("/v2/images", data=body, headers={"Content-Type": "application/json"})
    assert_error(response, 413, "max_request_body_size")


def test_oversize_chunked_json_body_is_413(alice):
    chunks = iter([b'{"description": "', b"y" * 70_000, b'"}'])
    response = alice.post("/v2/images", data=chunks, headers={"Content-Type": "application/json"})
    assert_error(response, 413, "max_request_body_size")


def test_upload_short_of_content_length_leaves_image_queued(alice):
    import socket
    image = alice.create_image()
    with alice.start_raw_upload(image["id"], 100, b"x" * 10) as sock:
        sock.shutdown(socket.SHUT_WR)
        reply = sock.recv(65536).decode()
    assert reply.split()[1] in ("400",), reply
    assert alice.get(f"/v2/images/{image['id']}").json()["status"] == "queued"


def test_method_not_allowed_is_405_json(alice):
    response = alice.request("POST", "/v2/images/00000000-0000-0000-0000-000000000000")
    assert_error(response, 405)
    assert "GET" in response.headers["Allow"]


def test_member_update_with_malformed_json(alice):
    image = alice.create_image()
    response = alice.put(f"/v2/images/{image['id']}/members/project-bob", data=b"{bad",
                         headers={"Content-Type": "application/json"})
    assert_error(response, 400, "Malformed JSON")
