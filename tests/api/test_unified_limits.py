"""use_keystone_limits = true: Glance's four limits from Keystone, through oslo.limit."""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import sys

import pytest
import requests

from harness import ApiServer

BIN = os.path.dirname(sys.executable)
MiB = 1024 * 1024
DEFAULTS = {"image_size_total": 1000, "image_stage_total": 1000, "image_count_total": 100,
            "image_count_uploading": 100}


class Limits:
    """Keystone's registered and project limits of the image service, set as the admin."""

    def __init__(self, keystone):
        self.keystone = keystone
        self.admin = keystone.session("admin")
        self.url = keystone.env["OS_AUTH_URL"]
        endpoint = self.admin.get(
            f"{self.url}/endpoints/{keystone.env['KEYSTONE_IMAGE_ENDPOINT_ID']}").json()
        self.service_id = endpoint["endpoint"]["service_id"]

    def register(self, resource: str, default: int) -> None:
        found = self.admin.get(f"{self.url}/registered_limits", params={
            "service_id": self.service_id, "resource_name": resource}).json()["registered_limits"]
        if found:
            self.admin.patch(f"{self.url}/registered_limits/{found[0]['id']}",
                             json={"registered_limit": {"default_limit": default}})
        else:
            self.admin.post(f"{self.url}/registered_limits", json={"registered_limits": [{
                "service_id": self.service_id, "region_id": "RegionOne",
                "resource_name": resource, "default_limit": default}]})

    def set_project(self, project_id: str, resource: str, value: int) -> None:
        """As a trainee does it: openstack limit create (or set, the second time)."""
        env = {**os.environ, **{k: v for k, v in self.keystone.env.items()
                                if k.startswith("OS_")}}
        found = self.admin.get(f"{self.url}/limits", params={
            "service_id": self.service_id, "project_id": project_id,
            "resource_name": resource}).json()["limits"]
        if found:
            command = ["limit", "set", "--resource-limit", str(value), found[0]["id"]]
        else:
            command = ["limit", "create", "--project", project_id, "--service", "image",
                       "--region", "RegionOne", "--resource-limit", str(value), resource]
        done = subprocess.run([os.path.join(BIN, "openstack"), *command, "-f", "json"],
                              capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def limits(keystone):
    limits = Limits(keystone)
    for resource, default in DEFAULTS.items():
        limits.register(resource, default)
    return limits


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
    assert usage["image_size_total"]["limit"] == DEFAULTS["image_size_total"]
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
