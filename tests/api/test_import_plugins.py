"""Glance's import plugins on real data: qemu-img converts a real qcow2, gzip and zip
archives are unpacked, operators' properties are injected; each step shows in the task, and
a plugin that fails leaves the image queued with its reason and no data anywhere."""

import gzip
import hashlib
import io
import os
import struct
import subprocess
import zipfile

import pytest

from harness import ApiServer, StaticHttpServer
from helpers import ADMIN, Client, identity, wait_for_task

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def disks(tmp_path_factory):
    """A 4 MiB raw disk (1 MiB of random data, then zeros), the same as a qcow2 made by
    qemu-img, and a copy of that qcow2 with an L1 entry qemu-img calls corrupt."""
    root = tmp_path_factory.mktemp("plugindisks")
    raw = root / "disk.raw"
    raw.write_bytes(os.urandom(MiB) + bytes(3 * MiB))
    qcow2 = root / "disk.qcow2"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(qcow2)],
                   check=True)
    data = bytearray(qcow2.read_bytes())
    l1_offset = struct.unpack(">Q", data[40:48])[0]
    data[l1_offset:l1_offset + 8] = struct.pack(">Q", 0x8000000000000201)  # unaligned L2
    (root / "corrupt.qcow2").write_bytes(bytes(data))
    (root / "disk.raw.gz").write_bytes(gzip.compress(raw.read_bytes()))
    return root


@pytest.fixture(scope="module")
def web(disks):
    server = StaticHttpServer(str(disks))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("pluginapi")
    api = ApiServer(str(work), extra_conf="""
        [image_import_opts]
        image_import_plugins = [image_decompression, image_conversion, inject_image_metadata]
        [image_conversion]
        output_format = raw
        [inject_metadata_properties]
        inject = hw_scsi_model:virtio-scsi,os_glance_sneaky:1
        ignore_user_roles = admin
        [import_filtering_opts]
        allowed_hosts = 127.0.0.1
        allowed_ports =
        """)
    api.start()
    yield api
    api.stop()


@pytest.fixture
def alice(server):
    return Client(server.url, identity("project-plugins"))


def stage_and_import(client, payload: bytes, **fields):
    image = client.create_image(**fields)
    response = client.put(f"/v2/images/{image['id']}/stage", data=payload,
                          headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 204, response.text
    response = client.post(f"/v2/images/{image['id']}/import",
                           json={"method": {"name": "glance-direct"}})
    assert response.status_code == 202, response.text
    return image, wait_for_task(client, image["id"])


def test_a_qcow2_is_converted_to_raw_and_its_checksums_are_of_the_raw(alice, disks, server):
    raw = (disks / "disk.raw").read_bytes()
    image, task = stage_and_import(alice, (disks / "disk.qcow2").read_bytes(),
                                   disk_format="qcow2")
    assert task["status"] == "success", task["message"]
    steps = task["result"]["plugins"]
    assert any(step.startswith("image_conversion: converted qcow2 to raw") for step in steps)
    shown = alice.get(f"/v2/images/{image['id']}").json()
    assert shown["status"] == "active"
    assert (shown["disk_format"], shown["container_format"]) == ("raw", "bare")
    assert shown["size"] == len(raw) and shown["virtual_size"] == len(raw)
    assert shown["checksum"] == hashlib.md5(raw).hexdigest()
    assert shown["os_hash_value"] == hashlib.sha512(raw).hexdigest()
    assert alice.get(f"/v2/images/{image['id']}/file").content == raw
    # inject_image_metadata ran for a member, but never sets Glance's own namespace
    assert shown["hw_scsi_model"] == "virtio-scsi"
    assert "os_glance_sneaky" not in shown


def test_an_admins_import_gets_no_injected_properties(server, disks):
    admin = Client(server.url, ADMIN)
    image, task = stage_and_import(admin, (disks / "disk.raw").read_bytes())
    assert task["status"] == "success", task["message"]
    assert "hw_scsi_model" not in admin.get(f"/v2/images/{image['id']}").json()
    assert any("nothing injected" in step for step in task["result"]["plugins"])


def test_a_corrupt_qcow2_fails_the_import_and_leaves_no_data(alice, disks, server):
    image, task = stage_and_import(alice, (disks / "corrupt.qcow2").read_bytes(),
                                   disk_format="qcow2")
    assert task["status"] == "failure"
    assert "qemu-img could not convert" in task["message"]
    shown = alice.get(f"/v2/images/{image['id']}").json()
    assert shown["status"] == "queued" and shown["disk_format"] == "qcow2"
    assert shown["size"] is None or shown["size"] == 0
    assert shown["os_glance_failed_import"] == "file"
    assert alice.get(f"/v2/images/{image['id']}/file").status_code == 204
    assert not any(image["id"] in name for name in _files_under(server.workdir))


def test_a_gzip_web_download_is_unpacked(alice, disks, web):
    raw = (disks / "disk.raw").read_bytes()
    image = alice.create_image()
    response = alice.post(f"/v2/images/{image['id']}/import", json={
        "method": {"name": "web-download", "uri": f"{web.url}/disk.raw.gz"}})
    assert response.status_code == 202, response.text
    task = wait_for_task(alice, image["id"])
    assert task["status"] == "success", task["message"]
    assert any(step.startswith("image_decompression: unpacked gzip")
               for step in task["result"]["plugins"])
    shown = alice.get(f"/v2/images/{image['id']}").json()
    assert shown["size"] == len(raw) and shown["checksum"] == hashlib.md5(raw).hexdigest()


def test_a_zip_of_one_file_is_unpacked_and_of_two_is_refused(alice, disks):
    raw = (disks / "disk.raw").read_bytes()
    one = io.BytesIO()
    with zipfile.ZipFile(one, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("disk.raw", raw)
    image, task = stage_and_import(alice, one.getvalue())
    assert task["status"] == "success", task["message"]
    assert alice.get(f"/v2/images/{image['id']}/file").content == raw
    two = io.BytesIO()
    with zipfile.ZipFile(two, "w") as archive:
        archive.writestr("a.raw", raw)
        archive.writestr("b.raw", raw)
    image, task = stage_and_import(alice, two.getvalue())
    assert task["status"] == "failure" and "exactly one file" in task["message"]
    assert alice.get(f"/v2/images/{image['id']}").json()["status"] == "queued"


def test_a_compressed_container_is_kept_as_it_is(alice, disks):
    packed = (disks / "disk.raw.gz").read_bytes()
    image, task = stage_and_import(alice, packed, container_format="compressed")
    assert task["status"] == "success", task["message"]
    assert alice.get(f"/v2/images/{image['id']}/file").content == packed


def _files_under(root):
    for directory, _dirs, files in os.walk(root):
        yield from (os.path.join(directory, name) for name in files)
