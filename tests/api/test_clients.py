"""The real clients, unmodified: python-glanceclient (library and CLI), openstacksdk and
the openstack CLI."""

import hashlib
import io
import json
import os
import subprocess
import sys
import time
import uuid

import pytest

BIN = os.path.dirname(sys.executable)


@pytest.fixture
def glance(api):
    from glanceclient import Client
    return Client("2", endpoint=api.url, token="x")


@pytest.fixture
def glance_bob(api):
    from glanceclient import Client
    return Client("2", endpoint=api.url, token="x", identity_headers={
        "X-Identity-Status": "Confirmed", "X-Project-Id": "project-bob",
        "X-Roles": "member,reader"})


def test_glanceclient_library_lifecycle(glance, tmp_path):
    payload = os.urandom(1024 * 1024 + 3)
    image = glance.images.create(name="lib-image", disk_format="raw", container_format="bare",
                                 os_distro="debian", tags=["lib"])
    assert image.status == "queued"
    glance.images.upload(image.id, io.BytesIO(payload))
    fetched = glance.images.get(image.id)
    assert fetched.status == "active" and fetched.size == len(payload)
    assert fetched.checksum == hashlib.md5(payload).hexdigest()
    data = b"".join(glance.images.data(image.id))  # glanceclient verifies Content-MD5
    assert data == payload
    glance.images.update(image.id, name="renamed", hw_disk_bus="virtio", remove_props=["os_distro"])
    updated = glance.images.get(image.id)
    assert updated.name == "renamed" and updated.hw_disk_bus == "virtio"
    assert "os_distro" not in updated
    glance.image_tags.update(image.id, "extra")
    assert set(glance.images.get(image.id).tags) == {"lib", "extra"}
    found = list(glance.images.list(filters={"tag": ["extra"], "name": "renamed"}))
    assert [i.id for i in found] == [image.id]
    glance.images.delete(image.id)
    from glanceclient.exc import HTTPNotFound
    with pytest.raises(HTTPNotFound):
        glance.images.get(image.id)


def test_glanceclient_paginates_through_next_links(glance):
    tag = uuid.uuid4().hex
    for i in range(7):
        glance.images.create(name=f"page-{i}", tags=[tag])
    listed = list(glance.images.list(filters={"tag": [tag]}, page_size=2))
    assert sorted(i.name for i in listed) == [f"page-{i}" for i in range(7)]


def test_glanceclient_members_across_projects(glance, glance_bob):
    image = glance.images.create(name="shared-one", visibility="shared")
    glance.image_members.create(image.id, "project-bob")
    glance_bob.image_members.update(image.id, "project-bob", "accepted")
    members = list(glance.image_members.list(image.id))
    assert [(m.member_id, m.status) for m in members] == [("project-bob", "accepted")]
    assert image.id in [i.id for i in glance_bob.images.list()]


def glance_cli(api, *args, input_file=None):
    command = [os.path.join(BIN, "glance"), "--os-image-url", api.url, "--os-auth-token", "x",
               *args]
    with open(input_file or os.devnull, "rb") as stdin:  # glance reads image data from stdin
        result = subprocess.run(command, capture_output=True, text=True, timeout=120,
                                stdin=stdin)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_glance_cli(api, tmp_path):
    source = tmp_path / "disk.img"
    source.write_bytes(os.urandom(300_000))
    out = glance_cli(api, "image-create", "--name", "cli-image", "--disk-format", "raw",
                     "--container-format", "bare", "--file", str(source), "--progress")
    assert "active" in out
    image_id = next(line.split("|")[2].strip() for line in out.splitlines()
                    if line.startswith("| id "))
    assert "cli-image" in glance_cli(api, "image-list")
    assert image_id in glance_cli(api, "image-show", image_id)
    target = tmp_path / "out.img"
    glance_cli(api, "image-download", "--file", str(target), image_id)
    assert target.read_bytes() == source.read_bytes()
    glance_cli(api, "image-update", "--property", "os_type=linux", image_id)
    assert "os_type" in glance_cli(api, "image-show", image_id)
    glance_cli(api, "image-delete", image_id)
    assert "cli-image" not in glance_cli(api, "image-list")


@pytest.fixture
def sdk(api):
    import openstack
    return openstack.connect(auth_type="none", image_endpoint_override=api.url,
                             load_yaml_config=False, load_envvars=False)


def test_openstacksdk_image_lifecycle(sdk, tmp_path):
    source = tmp_path / "sdk.img"
    payload = os.urandom(200_000)
    source.write_bytes(payload)
    image = sdk.image.create_image(name="sdk-image", filename=str(source), disk_format="raw",
                                   container_format="bare", wait=True)
    fetched = sdk.image.get_image(image.id)
    assert fetched.status == "active" and fetched.size == len(payload)
    assert fetched.checksum == hashlib.md5(payload).hexdigest()
    assert sdk.image.download_image(image.id).content == payload
    sdk.image.update_image(image.id, name="sdk-renamed")
    assert sdk.image.find_image("sdk-renamed").id == image.id
    assert image.id in [i.id for i in sdk.image.images(name="sdk-renamed")]
    sdk.image.delete_image(image.id)
    assert sdk.image.find_image(image.id) is None


def test_openstack_cli(api, tmp_path):
    source = tmp_path / "osc.img"
    source.write_bytes(b"osc" * 1000)
    base = [os.path.join(BIN, "openstack"), "--os-auth-type", "none", "--os-endpoint", api.url]
    result = subprocess.run(base + ["image", "create", "--disk-format", "raw", "--container-format",
                                    "bare", "--file", str(source), "-f", "json", "osc-image"],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert created["name"] == "osc-image"
    result = subprocess.run(base + ["image", "list", "-f", "json", "--name", "osc-image"],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert [(i["ID"], i["Status"]) for i in listed] == [(created["id"], "active")]


def test_glance_cli_image_create_via_import(api, tmp_path):
    """glanceclient reads /v2/info/import, stages the file, then imports with glance-direct."""
    source = tmp_path / "import.img"
    source.write_bytes(os.urandom(400_000))
    out = glance_cli(api, "image-create-via-import", "--name", "cli-import", "--disk-format",
                     "raw", "--container-format", "bare", "--import-method", "glance-direct",
                     input_file=source)
    image_id = next(line.split("|")[2].strip() for line in out.splitlines()
                    if line.startswith("| id "))
    deadline = time.monotonic() + 60
    while "active" not in glance_cli(api, "image-show", image_id):
        assert time.monotonic() < deadline, "the import did not finish"
        time.sleep(0.2)
    target = tmp_path / "back.img"
    glance_cli(api, "image-download", "--file", str(target), image_id)
    assert target.read_bytes() == source.read_bytes()
    assert "web-download" in glance_cli(api, "import-info")


def test_openstacksdk_create_image_with_import(sdk, tmp_path):
    source = tmp_path / "sdk-import.img"
    payload = os.urandom(300_000)
    source.write_bytes(payload)
    image = sdk.image.create_image(name="sdk-import", filename=str(source), disk_format="raw",
                                   container_format="bare", use_import=True)
    fetched = sdk.image.wait_for_status(sdk.image.get_image(image.id), status="active", wait=60)
    assert fetched.status == "active" and fetched.size == len(payload)
    assert sdk.image.download_image(image.id).content == payload
