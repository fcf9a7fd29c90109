"""Glance's rbd store on a real one-node Ceph: what lands in the pool, clones, registered
disks, copies, outages. The upload/download/Range/delete suite runs on it in test_backends."""

import hashlib
import os
import signal
import subprocess
import time
import uuid

import pytest

from harness import ApiServer
from helpers import ADMIN, Client, identity, wait_for_task

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def rbd_api(session_dir, ceph_service):
    """Single-store form: stores = rbd, with direct_url shown."""
    env = ceph_service.env
    server = ApiServer(os.path.join(session_dir, "api-rbd"), extra_conf=f"""
        [DEFAULT]
        show_image_direct_url = true
        user_storage_quota = 48MB
        [glance_store]
        stores = rbd, http
        default_store = rbd
        rbd_store_pool = {env['RBD_STORE_POOL']}
        rbd_store_user = {env['RBD_STORE_USER']}
        rbd_store_ceph_conf = {env['RBD_STORE_CEPH_CONF']}
        rbd_store_chunk_size = 2
        """)
    server.base_store_conf = False
    yield server.start()
    server.stop()


@pytest.fixture
def admin(rbd_api):
    return Client(rbd_api.url, ADMIN)


def _uploaded(client, payload) -> dict:
    image = client.create_image()
    response = client.upload(image["id"], payload)
    assert response.status_code == 204, response.text
    return client.get(f"/v2/images/{image['id']}").json()


def _rbd_image(ceph_pool, name, snapshot=None):
    import rbd
    return rbd.Image(ceph_pool, name, snapshot=snapshot, read_only=True)


def test_upload_is_an_rbd_image_with_a_protected_snapshot(admin, ceph_pool, ceph_service):
    import rbd
    payload = os.urandom(5 * MiB + 3)
    image = _uploaded(admin, payload)
    fsid = ceph_service.env["CEPH_FSID"]
    assert image["direct_url"] == f"rbd://{fsid}/images/{image['id']}/snap"
    assert image["os_hash_value"] == hashlib.sha512(payload).hexdigest()
    with _rbd_image(ceph_pool, image["id"]) as disk:
        assert disk.size() == len(payload)
        assert disk.features() & rbd.RBD_FEATURE_LAYERING
        assert disk.stat()["obj_size"] == 2 * MiB  # rbd_store_chunk_size
        assert [s["name"] for s in disk.list_snaps()] == ["snap"]
        assert disk.is_protected_snap("snap")
    with _rbd_image(ceph_pool, image["id"], "snap") as snap:
        assert hashlib.sha512(snap.read(0, len(payload))).hexdigest() == image["os_hash_value"]
    assert admin.get(f"/v2/images/{image['id']}/file").content == payload


def test_unknown_size_upload_grows_the_image_and_trims_it(admin, ceph_pool):
    payload = os.urandom(7 * MiB + 11)
    image = admin.create_image()
    chunks = iter([payload[i:i + 300_000] for i in range(0, len(payload), 300_000)])
    assert admin.upload(image["id"], chunks).status_code == 204
    with _rbd_image(ceph_pool, image["id"]) as disk:
        assert disk.size() == len(payload)
    assert admin.get(f"/v2/images/{image['id']}/file").content == payload


def _pool_names_with(ceph_pool, image_id) -> list[str]:
    import rbd
    return [name for name in rbd.RBD().list(ceph_pool) if image_id in name]


def test_quota_stops_an_rbd_upload_and_nothing_stays_in_the_pool(rbd_api, ceph_pool):
    user = Client(rbd_api.url, identity(f"project-{uuid.uuid4().hex[:8]}"))
    image = user.create_image()
    response = user.upload(image["id"], iter([os.urandom(MiB) for _ in range(50)]))
    assert response.status_code == 413, response.text
    assert user.get(f"/v2/images/{image['id']}").json()["status"] == "queued"
    assert _pool_names_with(ceph_pool, image["id"]) == []


def test_an_unsafe_image_is_refused_before_it_reaches_the_pool(admin, ceph_pool, tmp_path):
    import subprocess
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "base.qcow2", "4M"],
                   cwd=tmp_path, check=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-o",
                    f"backing_file={tmp_path}/base.qcow2,backing_fmt=qcow2", "top.qcow2"],
                   cwd=tmp_path, check=True)
    image = admin.create_image(disk_format="qcow2")
    response = admin.upload(image["id"], (tmp_path / "top.qcow2").read_bytes())
    assert response.status_code == 400 and "backing file" in response.json()["message"]
    assert _pool_names_with(ceph_pool, image["id"]) == []


def test_a_write_left_by_a_dead_process_gives_way_to_the_new_upload(admin, ceph_pool):
    """A process died after renaming its finished write, before its database commit: the
    image went back to queued, and its next upload replaces that stale copy."""
    import rbd
    image = admin.create_image()
    rbd.RBD().create(ceph_pool, image["id"], 4096, old_format=False,
                     features=rbd.RBD_FEATURE_LAYERING)
    with rbd.Image(ceph_pool, image["id"]) as stale:
        stale.write(b"stale" * 800, 0)
        stale.create_snap("snap")
        stale.protect_snap("snap")
    payload = os.urandom(MiB + 1)
    assert admin.upload(image["id"], payload).status_code == 204
    assert admin.get(f"/v2/images/{image['id']}/file").content == payload
    assert _pool_names_with(ceph_pool, image["id"]) == [image["id"]]


def test_a_cloned_image_is_in_use_until_its_clone_goes(admin, ceph_pool):
    """Nova and Cinder clone the protected snapshot; Glance answers 409 and keeps it."""
    import rbd
    payload = os.urandom(3 * MiB)
    image = _uploaded(admin, payload)
    clone = f"nova-disk-{uuid.uuid4().hex[:8]}"
    rbd.RBD().clone(ceph_pool, image["id"], "snap", ceph_pool, clone,
                    features=rbd.RBD_FEATURE_LAYERING)
    try:
        refused = admin.delete(f"/v2/images/{image['id']}")
        assert refused.status_code == 409, refused.text
        assert "in use" in refused.json()["message"] and clone in refused.json()["message"]
        shown = admin.get(f"/v2/images/{image['id']}").json()
        assert shown["status"] == "active"
        assert admin.get(f"/v2/images/{image['id']}/file").content == payload
    finally:
        rbd.RBD().remove(ceph_pool, clone)
    assert admin.delete(f"/v2/images/{image['id']}").status_code == 204
    assert image["id"] not in rbd.RBD().list(ceph_pool)


def test_a_registered_disk_is_read_and_never_deleted(admin, ceph_pool, ceph_service):
    import rbd
    payload = os.urandom(MiB + 5)
    name = f"lab-disk-{uuid.uuid4().hex[:8]}"
    rbd.RBD().create(ceph_pool, name, len(payload), old_format=False,
                     features=rbd.RBD_FEATURE_LAYERING)
    with rbd.Image(ceph_pool, name) as disk:
        disk.write(payload, 0)
        disk.create_snap("snap")
    try:
        url = f"rbd://{ceph_service.env['CEPH_FSID']}/images/{name}/snap"
        image = admin.create_image()
        response = admin.post(f"/v2/images/{image['id']}/locations", json={"url": url})
        assert response.status_code == 202, response.text
        assert admin.get(f"/v2/images/{image['id']}").json()["size"] == len(payload)
        ranged = admin.get(f"/v2/images/{image['id']}/file", headers={"Range": "bytes=10-19"})
        assert ranged.status_code == 206 and ranged.content == payload[10:20]
        assert admin.delete(f"/v2/images/{image['id']}").status_code == 204
        with rbd.Image(ceph_pool, name, snapshot="snap", read_only=True) as disk:
            assert disk.read(0, len(payload)) == payload
    finally:
        with rbd.Image(ceph_pool, name) as disk:
            disk.remove_snap("snap")
        rbd.RBD().remove(ceph_pool, name)


def test_another_images_data_cannot_be_a_location(admin, ceph_pool):
    owner = _uploaded(admin, b"someone else's bytes")
    thief = admin.create_image()
    response = admin.post(f"/v2/images/{thief['id']}/locations",
                          json={"url": owner["direct_url"]})
    assert response.status_code == 400 and "another image's data" in response.text
    assert admin.get(f"/v2/images/{thief['id']}").json()["status"] == "queued"
    assert admin.get(f"/v2/images/{owner['id']}/file").content == b"someone else's bytes"


def test_locations_in_another_cluster_are_refused(admin):
    image = admin.create_image()
    response = admin.post(f"/v2/images/{image['id']}/locations", json={
        "url": f"rbd://{uuid.uuid4()}/images/{uuid.uuid4()}/snap"})
    assert response.status_code == 400 and "cluster" in response.json()["message"]


def test_copy_image_to_and_from_rbd(multistore_api, ceph_pool):
    import rbd
    admin = Client(multistore_api.url, ADMIN)
    payload = os.urandom(4 * MiB + 1)
    image = admin.create_image()
    assert admin.upload(image["id"], payload, headers={"X-Image-Meta-Store": "fast"}).ok
    for target in ("ceph", "cheap"):
        response = admin.post(f"/v2/images/{image['id']}/import", json={
            "method": {"name": "copy-image"}, "stores": [target]})
        assert response.status_code == 202, response.text
        task = wait_for_task(admin, image["id"], timeout=120)
        assert task["status"] == "success", task["message"]
        if target == "ceph":  # the next copy reads from rbd only
            assert admin.delete(f"/v2/stores/fast/{image['id']}").status_code == 204
    shown = admin.get(f"/v2/images/{image['id']}").json()
    assert sorted(shown["stores"].split(",")) == ["ceph", "cheap"]
    with rbd.Image(ceph_pool, image["id"], snapshot="snap", read_only=True) as disk:
        assert disk.read(0, len(payload)) == payload
    assert admin.delete(f"/v2/stores/ceph/{image['id']}").status_code == 204
    assert image["id"] not in rbd.RBD().list(ceph_pool)
    assert admin.get(f"/v2/images/{image['id']}/file").content == payload


def test_osd_stalling_mid_upload_is_503_and_leaves_no_image(tmp_path, ceph_service, ceph_pool):
    """The OSD stops answering half-way: 503, and the partial image goes (at once, or when
    the service starts again once Ceph is back)."""
    import rbd
    conf = open(ceph_service.env["CEPH_CONF"]).read()
    (tmp_path / "ceph.conf").write_text(conf + "\n[client]\nrados osd op timeout = 3\n")
    server = ApiServer(str(tmp_path / "api"), workers=1, extra_conf=f"""
        [glance_store]
        stores = rbd
        default_store = rbd
        rbd_store_user = glance
        rbd_store_ceph_conf = {tmp_path}/ceph.conf
        rbd_store_chunk_size = 1
        """)
    server.base_store_conf = False
    server.start()
    osd_pid = int(open(os.path.join(ceph_service.state_dir, "run", "osd.pid")).read())
    try:
        client = Client(server.url, ADMIN)
        image = client.create_image()

        def body():
            for number in range(40):
                if number == 4:
                    os.kill(osd_pid, signal.SIGSTOP)
                yield os.urandom(256 * 1024)

        try:
            response = client.upload(image["id"], body())
        finally:
            os.kill(osd_pid, signal.SIGCONT)
        assert response.status_code == 503, response.text
        assert "'rbd'" in response.json()["message"]
        assert client.get(f"/v2/images/{image['id']}").json()["status"] == "queued"
        server.stop()
        server.start()  # Ceph is back: start-up recovery removes what the cut left
        deadline = time.monotonic() + 30
        while _pool_names_with(ceph_pool, image["id"]):
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.2)
    finally:
        os.kill(osd_pid, signal.SIGCONT)
        server.stop()


def test_a_qcow2_import_is_converted_to_raw_in_rbd_and_cloned_there(
        session_dir, ceph_service, ceph_pool, tmp_path):
    """What operators of rbd-backed clouds turn image_conversion on for: a qcow2 arrives
    as raw, so Nova and Cinder clone it in Ceph instead of copying it."""
    import rbd
    env = ceph_service.env
    raw = os.urandom(MiB) + bytes(3 * MiB)
    (tmp_path / "disk.raw").write_bytes(raw)
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2",
                    str(tmp_path / "disk.raw"), str(tmp_path / "disk.qcow2")], check=True)
    server = ApiServer(os.path.join(session_dir, "api-rbd-convert"), extra_conf=f"""
        [glance_store]
        stores = rbd
        default_store = rbd
        rbd_store_pool = {env['RBD_STORE_POOL']}
        rbd_store_user = {env['RBD_STORE_USER']}
        rbd_store_ceph_conf = {env['RBD_STORE_CEPH_CONF']}
        [os_glance_staging_store]
        filesystem_store_datadir = {tmp_path}/staging
        [image_import_opts]
        image_import_plugins = image_conversion
        """)
    server.base_store_conf = False
    server.start()
    try:
        admin = Client(server.url, ADMIN)
        image = admin.create_image(disk_format="qcow2")
        assert admin.put(f"/v2/images/{image['id']}/stage",
                         data=(tmp_path / "disk.qcow2").read_bytes(),
                         headers={"Content-Type": "application/octet-stream"}
                         ).status_code == 204
        assert admin.post(f"/v2/images/{image['id']}/import",
                          json={"method": {"name": "glance-direct"}}).status_code == 202
        task = wait_for_task(admin, image["id"])
        assert task["status"] == "success", task["message"]
        shown = admin.get(f"/v2/images/{image['id']}").json()
        assert shown["disk_format"] == "raw" and shown["size"] == len(raw)
        clone = f"nova-disk-{uuid.uuid4().hex[:8]}"
        rbd.RBD().clone(ceph_pool, image["id"], "snap", ceph_pool, clone,
                        features=rbd.RBD_FEATURE_LAYERING)
        try:
            with rbd.Image(ceph_pool, clone, read_only=True) as disk:
                assert disk.parent_info()[1] == image["id"]
                assert disk.read(0, len(raw)) == raw  # the guest sees the raw disk
        finally:
            rbd.RBD().remove(ceph_pool, clone)
        assert admin.delete(f"/v2/images/{image['id']}").status_code == 204
    finally:
        server.stop()
