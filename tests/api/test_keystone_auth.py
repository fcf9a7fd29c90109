"""auth_strategy = keystone against the project's real Keystone: tokens from keystoneauth."""

from __future__ import annotations

import subprocess
import time

import requests

from harness import GLANCELAB, ApiServer


def call(server, method, path, token=None, **kwargs):
    headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
    if token:
        headers["X-Auth-Token"] = token
    return requests.request(method, server.url + path, headers=headers, timeout=60, **kwargs)


def new_image(server, token, headers=None, **fields):
    return call(server, "POST", "/v2/images", token, headers=headers or {},
                json={"name": "ks", "disk_format": "raw", "container_format": "bare", **fields})


def test_no_token_or_a_bad_one_is_401_with_www_authenticate(keystone_api, keystone):
    for token in (None, "not-a-token", "gAAAAAB" + "x" * 150):
        response = call(keystone_api, "GET", "/v2/images", token)
        assert response.status_code == 401, response.text
        assert keystone.url in response.headers["WWW-Authenticate"]


def test_version_discovery_and_health_need_no_token(keystone_api):
    assert call(keystone_api, "GET", "/").status_code == 300
    assert call(keystone_api, "GET", "/versions").status_code == 200
    assert call(keystone_api, "GET", "/healthcheck").status_code == 200


def test_health_details_need_an_admin_token(keystone_api, keystone):
    assert call(keystone_api, "GET", "/healthcheck?detailed").status_code == 401
    forged = call(keystone_api, "GET", "/healthcheck?detailed",
                  headers={"X-Roles": "admin", "X-Identity-Status": "Confirmed"})
    assert forged.status_code == 401
    assert call(keystone_api, "GET", "/healthcheck?detailed",
                token=keystone.token("demo")).status_code == 403
    admin = call(keystone_api, "GET", "/healthcheck?detailed", token=keystone.token("admin"))
    assert admin.status_code == 200 and admin.json()["database"]["state"] == "OK"


def test_a_demo_token_acts_as_demo_whatever_headers_it_forges(keystone_api, keystone):
    token = keystone.token("demo")
    demo_project = keystone.project_id("demo")
    forged = {"X-Roles": "admin", "X-Project-Id": "admin", "X-Identity-Status": "Confirmed",
              "X-User-Id": "admin"}
    created = new_image(keystone_api, token, headers=forged)
    assert created.status_code == 201, created.text
    image = created.json()
    assert image["owner"] == demo_project  # the token's project, not the forged one
    public = new_image(keystone_api, token, visibility="public", headers=forged)
    assert public.status_code == 403 and "publicize_image" in public.json()["message"]
    upload = call(keystone_api, "PUT", f"/v2/images/{image['id']}/file", token, data=b"demo",
                  headers={"Content-Type": "application/octet-stream", **forged})
    assert upload.status_code == 204
    # The admin (another project) sees it; the reader of demo may read but not write.
    admin = keystone.token("admin")
    assert call(keystone_api, "GET", f"/v2/images/{image['id']}", admin).status_code == 200
    reader = keystone.token("reader")
    assert call(keystone_api, "GET", f"/v2/images/{image['id']}", reader).status_code == 200
    assert new_image(keystone_api, reader).status_code == 403


def test_keystone_down_is_503_naming_it_and_recovers(keystone_api, keystone, tmp_path):
    fresh = keystone.token("demo")  # never seen by the API, so not in its token cache
    keystone.stop()
    try:
        response = call(keystone_api, "GET", "/v2/images", fresh)
        assert response.status_code == 503, response.text
        assert "keystone" in response.text.lower() or "identity" in response.text.lower()
    finally:
        keystone.start()
    assert call(keystone_api, "GET", "/v2/images", fresh).status_code == 200


def test_a_revoked_token_is_refused_once_token_cache_time_has_passed(keystone, tmp_path):
    """Repeated requests of a token skip auth_token (a memo), but never for longer than
    [keystone_authtoken] token_cache_time: then Keystone is asked again and says revoked."""
    server = ApiServer(str(tmp_path), workers=1,
                       extra_conf="[DEFAULT]\nauth_strategy = keystone\n"
                                  + keystone.authtoken_section() + "token_cache_time = 2\n")
    server.start()
    try:
        token = keystone.token("demo")
        for _ in range(3):
            assert call(server, "GET", "/v2/images", token).status_code == 200
        revoked = requests.delete(f"{keystone.url}/v3/auth/tokens", timeout=60,
                                  headers={"X-Auth-Token": keystone.token("admin"),
                                           "X-Subject-Token": token})
        assert revoked.status_code == 204, revoked.text
        time.sleep(3)
        refused = call(server, "GET", "/v2/images", token)
        assert refused.status_code == 401, refused.text
    finally:
        server.stop()


def test_trusted_proxy_believes_headers_and_keystone_does_not(tmp_path):
    server = ApiServer(str(tmp_path), extra_conf="[DEFAULT]\nauth_strategy = trusted-proxy\n")
    server.start()
    try:
        headers = {"X-Identity-Status": "Confirmed", "X-Project-Id": "p1", "X-Roles": "member"}
        assert call(server, "GET", "/v2/images", headers=headers).status_code == 200
        assert call(server, "GET", "/v2/images").status_code == 401
    finally:
        server.stop()


def test_unauthenticated_modes_refuse_a_network_address(tmp_path):
    for strategy in ("noauth", "trusted-proxy"):
        server = ApiServer(str(tmp_path / strategy),
                           extra_conf=f"[DEFAULT]\nauth_strategy = {strategy}\n")
        server.write_config()
        with open(server.config_path) as handle:
            text = handle.read().replace("bind_host = 127.0.0.1", "bind_host = 0.0.0.0")
        with open(server.config_path, "w") as handle:
            handle.write(text)
        done = subprocess.run([GLANCELAB, "--config", server.config_path, "serve"],
                              capture_output=True, text=True, timeout=60, cwd=str(tmp_path))
        assert done.returncode != 0
        assert "allow_unauthenticated_network" in done.stderr, done.stderr


def test_an_operators_policy_file_changes_the_rules(keystone, tmp_path):
    """Glance's [oslo_policy] policy_file: here members may publicize, as an override."""
    (tmp_path / "policy.yaml").write_text('"publicize_image": "role:member"\n')
    server = ApiServer(str(tmp_path), extra_conf="[DEFAULT]\nauth_strategy = keystone\n"
                       + keystone.authtoken_section()
                       + f"[oslo_policy]\npolicy_file = {tmp_path / 'policy.yaml'}\n")
    server.start()
    try:
        demo = keystone.token("demo")
        public = new_image(server, demo, visibility="public")
        assert public.status_code == 201, public.text
        reader = keystone.token("reader")
        assert new_image(server, reader, visibility="public").status_code == 403
    finally:
        server.stop()
    broken = ApiServer(str(tmp_path / "broken"), extra_conf="[oslo_policy]\npolicy_file = "
                       f"{tmp_path / 'bad.yaml'}\n")
    (tmp_path / "bad.yaml").write_text('"publicize_image": "role:member" and (\n')
    broken.write_config()
    done = subprocess.run([GLANCELAB, "--config", broken.config_path, "serve"],
                          capture_output=True, text=True, timeout=60, cwd=str(tmp_path))
    assert done.returncode != 0 and "policy_file" in done.stderr, done.stderr
