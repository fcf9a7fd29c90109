"""The real clients with real auth: password login at the project's Keystone, the image
endpoint from its catalog, as a trainee who sourced an openrc or wrote a clouds.yaml."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import yaml

from helpers import Client, wait_for_task

BIN = os.path.dirname(sys.executable)


def openrc(keystone, user: str, project: str) -> dict:
    """What `source demo-openrc` puts in the environment."""
    return {"OS_AUTH_URL": keystone.env["OS_AUTH_URL"], "OS_IDENTITY_API_VERSION": "3",
            "OS_USERNAME": user, "OS_PASSWORD": user, "OS_PROJECT_NAME": project,
            "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default",
            "OS_REGION_NAME": "RegionOne", "OS_INTERFACE": "public"}


@pytest.fixture(scope="module")
def clouds(keystone, keystone_api, tmp_path_factory):
    """A clouds.yaml with the demo and admin clouds, through OS_CLIENT_CONFIG_FILE."""
    path = tmp_path_factory.mktemp("clouds") / "clouds.yaml"

    def cloud(user, project):
        return {"auth": {"auth_url": keystone.env["OS_AUTH_URL"], "username": user,
                         "password": user, "project_name": project,
                         "user_domain_name": "Default", "project_domain_name": "Default"},
                "region_name": "RegionOne", "identity_api_version": 3}

    path.write_text(yaml.safe_dump({"clouds": {"lab-demo": cloud("demo", "demo"),
                                               "lab-admin": cloud("admin", "admin")}}))
    return str(path)


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    return {**env, **extra}


def osc(env: dict, *args) -> str:
    result = subprocess.run([os.path.join(BIN, "openstack"), *args], capture_output=True,
                            text=True, timeout=180, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_openstack_cli_from_an_openrc(keystone, keystone_api, tmp_path):
    env = clean_env(**openrc(keystone, "demo", "demo"))
    source = tmp_path / "osc.img"
    source.write_bytes(os.urandom(300_000))
    created = json.loads(osc(env, "image", "create", "--disk-format", "raw",
                             "--container-format", "bare", "--file", str(source),
                             "--property", "os_distro=cirros", "-f", "json", "rc-image"))
    assert created["owner"] == keystone.project_id("demo")
    listed = json.loads(osc(env, "image", "list", "--name", "rc-image", "-f", "json"))
    assert [(i["ID"], i["Status"]) for i in listed] == [(created["id"], "active")]
    shown = json.loads(osc(env, "image", "show", created["id"], "-f", "json"))
    assert shown["properties"]["os_distro"] == "cirros"
    osc(env, "image", "set", "--property", "os_distro=debian", "--min-ram", "64", created["id"])
    shown = json.loads(osc(env, "image", "show", created["id"], "-f", "json"))
    assert shown["properties"]["os_distro"] == "debian" and shown["min_ram"] == 64
    saved = tmp_path / "saved.img"
    osc(env, "image", "save", "--file", str(saved), created["id"])
    assert saved.read_bytes() == source.read_bytes()
    osc(env, "image", "delete", created["id"])
    assert json.loads(osc(env, "image", "list", "--name", "rc-image", "-f", "json")) == []


def test_sharing_between_projects_with_the_cli(keystone, keystone_api, clouds, tmp_path):
    """image add project as the owner, image set --accept as the member, as in Glance."""
    demo = clean_env(OS_CLIENT_CONFIG_FILE=clouds, OS_CLOUD="lab-demo")
    admin = clean_env(OS_CLIENT_CONFIG_FILE=clouds, OS_CLOUD="lab-admin")
    created = json.loads(osc(demo, "image", "create", "--disk-format", "raw",
                             "--container-format", "bare", "--shared", "-f", "json",
                             "shared-image"))
    admin_project = keystone.project_id("admin")
    osc(demo, "image", "add", "project", created["id"], admin_project)
    osc(admin, "image", "set", "--accept", created["id"])
    members = json.loads(osc(demo, "image", "member", "list", created["id"], "-f", "json"))
    assert [(m["Member ID"], m["Status"]) for m in members] == [(admin_project, "accepted")]
    # the reader of demo may look, not share
    reader = clean_env(**openrc(keystone, "reader", "demo"))
    assert json.loads(osc(reader, "image", "show", created["id"], "-f", "json"))["id"] \
        == created["id"]
    refused = subprocess.run([os.path.join(BIN, "openstack"), "image", "add", "project",
                              created["id"], "someone"], capture_output=True, text=True,
                             env=reader, timeout=180)
    assert refused.returncode != 0


def test_glance_cli_with_keystone(keystone, keystone_api, tmp_path):
    env = clean_env(**openrc(keystone, "demo", "demo"))
    source = tmp_path / "g.img"
    source.write_bytes(os.urandom(200_000))
    done = subprocess.run([os.path.join(BIN, "glance"), "image-create", "--name", "g-cli",
                           "--disk-format", "raw", "--container-format", "bare", "--file",
                           str(source)], capture_output=True, text=True, env=env, timeout=180)
    assert done.returncode == 0 and "active" in done.stdout, done.stderr
    listed = subprocess.run([os.path.join(BIN, "glance"), "image-list"], capture_output=True,
                            text=True, env=env, timeout=180)
    assert listed.returncode == 0 and "g-cli" in listed.stdout, listed.stderr


def test_openstacksdk_connect_to_a_cloud(keystone, keystone_api, clouds, monkeypatch):
    import openstack
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", clouds)
    for key in [k for k in os.environ if k.startswith("OS_") and k != "OS_CLIENT_CONFIG_FILE"]:
        monkeypatch.delenv(key)
    conn = openstack.connect(cloud="lab-demo")
    image = conn.image.create_image(name="sdk-ks", disk_format="raw", container_format="bare",
                                    data=b"sdk" * 1000)
    assert conn.image.get_image(image.id).status == "active"
    assert conn.image.download_image(image.id).content == b"sdk" * 1000
    conn.image.delete_image(image.id)
    assert conn.image.find_image(image.id) is None


def test_ansible_openstack_cloud_image_with_a_clouds_yaml(keystone, keystone_api, clouds,
                                                          tmp_path):
    from test_ansible_openstack_cloud import CLOUD_DIR, run_playbook
    if not (CLOUD_DIR / "bin/python").exists():
        pytest.fail("run scripts/install-openstack-collection (make test does)")
    payload = os.urandom(1024 * 1024 + 3)
    image_file = tmp_path / "disk.raw"
    image_file.write_bytes(payload)
    os.environ["OS_CLIENT_CONFIG_FILE"] = clouds
    try:
        results = run_playbook(CLOUD_DIR, tmp_path, glance_url=keystone_api.url,
                               image_name="ansible-ks", image_file=str(image_file),
                               cloud="lab-demo")
    finally:
        del os.environ["OS_CLIENT_CONFIG_FILE"]
    created = results["created"]["image"]
    assert created["status"] == "active" and created["owner"] == keystone.project_id("demo")
    assert results["again"]["changed"] is False
    admin = Client(keystone_api.url, {"X-Auth-Token": keystone.token("admin")})
    imported_id = results["imported"]["image"]["id"]
    assert wait_for_task(admin, imported_id)["status"] == "success"
    deadline = time.monotonic() + 30
    while admin.get(f"/v2/images/{imported_id}").json()["status"] != "active":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert admin.get(f"/v2/images/{imported_id}/file").content == payload


def test_glancelab_snapshot_import_logs_in_with_the_sourced_openrc(keystone, keystone_api,
                                                                    tmp_path):
    source = tmp_path / "disk.snap"
    source.write_bytes(os.urandom(200_000))
    command = [os.path.join(BIN, "glancelab"), "snapshot", "import", str(source), "--copy",
               "--quiet", "--name", "from-openrc", "--os-image-url", keystone_api.url]
    refused = subprocess.run(command, capture_output=True, text=True, timeout=120,
                             env=clean_env())
    assert refused.returncode == 1 and "401" in refused.stderr
    assert "Traceback" not in refused.stderr
    wrong = clean_env(**{**openrc(keystone, "demo", "demo"), "OS_PASSWORD": "not-it"})
    bad = subprocess.run(command, capture_output=True, text=True, timeout=120, env=wrong)
    assert bad.returncode == 1 and "gave no token" in bad.stderr and "Traceback" not in bad.stderr
    done = subprocess.run(command, capture_output=True, text=True, timeout=120,
                          env=clean_env(**openrc(keystone, "demo", "demo")))
    assert done.returncode == 0, done.stderr
    image_id = done.stdout.split()[0]
    demo = Client(keystone_api.url, {"X-Auth-Token": keystone.token("demo")})
    image = demo.get(f"/v2/images/{image_id}").json()
    assert image["owner"] == keystone.project_id("demo") and image["status"] == "active"
