"""Bad input gets a 4xx in Glance's format, never a 500 (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import pytest

from helpers import ADMIN, Client, identity


@pytest.fixture
def admin(api):
    return Client(api.url, ADMIN)


def assert_4xx(response):
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert "message" in response.json()


def raw_post(client, path, text):
    return client.post(path, data=text.encode("utf-8", "surrogatepass"),
                       headers={"Content-Type": "application/json"})


def test_a_deeply_nested_body(admin):
    assert_4xx(raw_post(admin, "/v2/images", "[" * 20000 + "]" * 20000))
    assert_4xx(raw_post(admin, "/v2/images", '{"a":' * 20000 + "1" + "}" * 20000))


@pytest.mark.parametrize("body", [
    '{"name": "\\ud800"}', '{"name": "ok", "key\\udfff": "v"}', '{"name": "ok", "k": "\\udc00"}',
    '{"name": "nul\\u0000name"}', '{"name": "ok", "k\\u0000": "v"}', '{"name": "ok", "k": "a\\u0000"}',
    '{"name": "ok", "tags": ["t\\u0000"]}', '{"name": "ok", "min_ram": 99999999999999999999999}',
    '{"name": "ok", "min_disk": -1}', '{"name": "ok", "' + "k" * 300 + '": "v"}',
    '{"name": "ok", "k": "' + "v" * 70000 + '"}',
])
def test_bad_image_bodies(admin, body):
    assert_4xx(raw_post(admin, "/v2/images", body))


def test_bad_patches(admin):
    image = admin.create_image()
    for ops in ('[{"op": "add", "path": "/\\ud800", "value": "x"}]',
                '[{"op": "add", "path": "/k", "value": "\\u0000"}]',
                '[{"op": "replace", "path": "/min_ram", "value": 99999999999999999999999}]'):
        response = admin.request("PATCH", f"/v2/images/{image['id']}",
                                 data=ops.encode("utf-8", "surrogatepass"), headers={
                                     "Content-Type": "application/openstack-images-v2.1-json-patch"})
        assert_4xx(response)


@pytest.mark.parametrize("query", [
    "size_min=99999999999999999999999", "created_at=gt:0001-01-01T00:00:00+01:00",
    "created_at=gt:9999-12-31T23:59:59-01:00", "name=%00", "k%00=v", "tag=%ED%A0%80",
    "limit=99999999999999999999", "marker=%00",
])
def test_bad_list_queries(admin, query):
    response = admin.get(f"/v2/images?{query}")
    assert response.status_code < 500, (response.status_code, response.text[:300])


def test_bad_identity_headers(api):
    long_project = Client(api.url, identity("p" * 300))
    response = long_project.post("/v2/images", json={"name": "x"})
    assert response.status_code < 500, response.text[:300]
    nul = Client(api.url, {**identity("proj"), "X-Project-Id": "pr%00oj"})
    assert nul.post("/v2/images", json={"name": "x"}).status_code < 500


def test_bad_ids_in_paths(admin):
    for image_id in ("%00", "x" * 300, "%ED%A0%80", "..%2F..%2Fetc"):
        assert admin.get(f"/v2/images/{image_id}").status_code in (400, 404)
        assert admin.put(f"/v2/images/{image_id}/tags/x").status_code in (400, 404)


def test_a_bad_web_download_uri(admin):
    image = admin.create_image()
    response = admin.post(f"/v2/images/{image['id']}/import",
                          json={"method": {"name": "web-download", "uri": "http://[::1/x"}})
    assert_4xx(response)
    json.dumps(response.json())
