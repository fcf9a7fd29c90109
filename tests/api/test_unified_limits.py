"""use_keystone_limits = true: Glance's four limits from Keystone, through oslo.limit."""

from __future__ import annotations

import concurrent.futures
import os

import pytest
import requests

from harness import LIMIT_DEFAULTS, ApiServer

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def limited_api(keystone, limits, tmp_path_factory):
    server = ApiServer(str(tmp_path_factory.mktemp("limits")), extra_conf=f"""
        [DEFAULT]
        auth_strategy = keystone
        use_keystone_limits = true
        {keystone.authtoken_section()}
        {keystone.oslo_limit_section()}
        """)
    yield server.start()
    server.stop()


def create(server, token):
    return requests.post(f"{server.url}/v2/images", timeout=60, headers={"X-Auth-Token": token},
                         json={"name": "limited", "disk_format": "raw",
                               "container_format": "bare"})


def test_parallel_creates_never_pass_image_count_total(keystone, limits, limited_api):
    project = keystone.project_id("demo")
    limits.set_project(project, "image_count_total", 5)
    token = keystone.token("demo")
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        codes = sorted(r.status_code for r in pool.map(lambda _: create(limited_api, token),
                                                       range(20)))
    assert codes == [201] * 5 + [413] * 15
    usage = requests.get(f"{limited_api.url}/v2/info/usage", timeout=60,
                         headers={"X-Auth-Token": token}).json()["usage"]
    assert usage["image_count_total"] == {"limit": 5, "usage": 5}
    assert usage["image_size_total"]["limit"] == LIMIT_DEFAULTS["image_size_total"]
    limits.set_project(project, "image_count_total", 6)  # a change holds at once
    assert create(limited_api, token).status_code == 201


def test_image_size_total_stops_an_upload_at_the_limit(keystone, limits, limited_api):
    admin = keystone.token("admin")
    admin_project = keystone.project_id("admin")
    limits.set_project(admin_project, "image_size_total", 1)  # MiB
    image = create(limited_api, admin).json()
    response = requests.put(f"{limited_api.url}/v2/images/{image['id']}/file", timeout=60,
                            data=os.urandom(2 * MiB),
                            headers={"X-Auth-Token": admin,
                                     "Content-Type": "application/octet-stream"})
    assert response.status_code == 413, response.text
    assert "image_size_total" in response.text  # plain text for Accept: */*, as Glance
    shown = requests.get(f"{limited_api.url}/v2/images/{image['id']}", timeout=60,
                         headers={"X-Auth-Token": admin}).json()
    assert shown["status"] == "queued"
    limits.set_project(admin_project, "image_size_total", 10)
    response = requests.put(f"{limited_api.url}/v2/images/{image['id']}/file", timeout=60,
                            data=os.urandom(2 * MiB),
                            headers={"X-Auth-Token": admin,
                                     "Content-Type": "application/octet-stream"})
    assert response.status_code == 204, response.text
    usage = requests.get(f"{limited_api.url}/v2/info/usage", timeout=60,
                         headers={"X-Auth-Token": admin}).json()["usage"]
    assert usage["image_size_total"] == {"limit": 10, "usage": 2}
