"""[cors] as in Glance (oslo.middleware's CORS filter, outermost): a browser app on an
allowed origin gets its preflight answered without a token and may read the answers; any
other origin gets no CORS headers at all; and without allowed_origin nothing changes."""

from __future__ import annotations

import os

import pytest
import requests

from harness import ApiServer

ALLOWED = "http://127.0.0.1:9393"


@pytest.fixture(scope="module")
def cors_api(keystone, tmp_path_factory):
    server = ApiServer(str(tmp_path_factory.mktemp("cors")), extra_conf=(
        "[DEFAULT]\nauth_strategy = keystone\n" + keystone.authtoken_section()
        + f"\n[cors]\nallowed_origin = {ALLOWED}\nmax_age = 600\n"))
    yield server.start()
    server.stop()


def preflight(server, origin: str, method: str, headers: str):
    return requests.options(f"{server.url}/v2/images/x/file", timeout=30, headers={
        "Origin": origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers})


def test_a_preflight_from_an_allowed_origin_is_answered_without_a_token(cors_api):
    answer = preflight(cors_api, ALLOWED, "PUT", "X-Auth-Token, Content-Type")
    assert answer.status_code == 200, answer.text
    assert answer.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "PUT" in answer.headers["Access-Control-Allow-Methods"]
    allowed = answer.headers["Access-Control-Allow-Headers"].lower()
    assert "x-auth-token" in allowed and "content-type" in allowed
    assert answer.headers["Access-Control-Max-Age"] == "600"


def test_another_origin_gets_no_cors_headers(cors_api):
    answer = preflight(cors_api, "http://127.0.0.2:9393", "PUT", "X-Auth-Token")
    assert "Access-Control-Allow-Origin" not in answer.headers
    # a header Glance does not allow is refused for the allowed origin too
    odd = preflight(cors_api, ALLOWED, "PUT", "X-Something-Else")
    assert "Access-Control-Allow-Origin" not in odd.headers


def test_an_allowed_origin_reads_answers_and_the_request_id(cors_api, keystone):
    token = keystone.token("demo")
    listed = requests.get(f"{cors_api.url}/v2/images", timeout=30,
                          headers={"Origin": ALLOWED, "X-Auth-Token": token})
    assert listed.status_code == 200
    assert listed.headers["Access-Control-Allow-Origin"] == ALLOWED
    exposed = listed.headers["Access-Control-Expose-Headers"].lower()
    assert "x-openstack-request-id" in exposed
    # CORS lets the browser read an answer; it never stands in for a token
    refused = requests.get(f"{cors_api.url}/v2/images", timeout=30, headers={"Origin": ALLOWED})
    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == ALLOWED


def test_an_upload_streams_through_cors(cors_api, keystone):
    token = keystone.token("demo")
    headers = {"Origin": ALLOWED, "X-Auth-Token": token}
    image = requests.post(f"{cors_api.url}/v2/images", timeout=30, headers=headers, json={
        "name": "cors", "disk_format": "raw", "container_format": "bare"}).json()
    data = os.urandom(3 * 1024 * 1024)
    put = requests.put(f"{cors_api.url}/v2/images/{image['id']}/file", timeout=60,
                       data=iter([data[:1 << 20], data[1 << 20:]]),
                       headers={**headers, "Content-Type": "application/octet-stream"})
    assert put.status_code == 204, put.text
    got = requests.get(f"{cors_api.url}/v2/images/{image['id']}/file", timeout=60,
                       headers=headers)
    assert got.content == data and got.headers["Access-Control-Allow-Origin"] == ALLOWED


def test_without_allowed_origin_no_cors_header_is_sent(keystone_api, keystone):
    answer = preflight(keystone_api, ALLOWED, "PUT", "X-Auth-Token")
    assert "Access-Control-Allow-Origin" not in answer.headers
