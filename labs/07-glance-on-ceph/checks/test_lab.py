"""Lab 2.7 checks: uploads land in the Ceph pool as a protected snapshot; a clone keeps them."""

import json

RBD = "rbd -c /etc/ceph/ceph.conf --id glance -p images"


def test_ceph_client_files_belong_to_glance(host):
    for path in ("/etc/ceph/ceph.conf", "/etc/ceph/ceph.client.glance.keyring"):
        conf = host.file(path)
        assert conf.exists, f"{path} is missing: write it (the keyring: ceph auth get client.glance)"
        assert (conf.group, conf.mode) == ("glance", 0o640), (
            f"{path}: chown root:glance and chmod 0640 it (the key must not be world-readable)")


def test_api_has_the_rbd_store_as_default(api):
    stores = api.json("/v2/info/stores")["stores"]
    assert [s["id"] for s in stores] == ["ceph"], (
        "set enabled_backends = ceph:rbd in [DEFAULT] and restart glancelab-api")
    assert stores[0].get("default") == "true", "set default_backend = ceph in [glance_store]"


def test_upload_is_an_rbd_image_with_a_protected_snapshot(host, api):
    image_id = api.create_image("lab-2.7-image")
    assert api.upload(image_id, "head -c 3000000 /dev/urandom") == "204", (
        "the upload failed: check [ceph] rbd_store_user, rbd_store_ceph_conf and the keyring")
    listed = host.run(f"{RBD} ls")
    assert listed.rc == 0, f"`{RBD} ls` failed: {listed.stderr.strip()}"
    assert image_id in listed.stdout.split(), "the image is not in the images pool"
    snap = json.loads(host.check_output(f"{RBD} info --format json {image_id}@snap"))
    assert snap["protected"] == "true", "Glance's snapshot `snap` must be protected"


def test_a_clone_keeps_the_image_until_it_goes(host, api):
    image_id = api.create_image("lab-2.7-cloned")
    assert api.upload(image_id, "echo lab27") == "204"
    clone = f"lab27-vm-disk-{image_id[:8]}"
    host.check_output(f"{RBD} clone {image_id}@snap images/{clone}")
    try:
        status = host.check_output(f"curl -s -o /dev/null -w '%{{http_code}}' -X DELETE "
                                   f"{api.url}/v2/images/{image_id}")
        assert status == "409", "deleting an image whose snapshot has a clone must answer 409"
    finally:
        host.check_output(f"{RBD} rm {clone}")
    assert host.check_output(f"curl -s -o /dev/null -w '%{{http_code}}' -X DELETE "
                             f"{api.url}/v2/images/{image_id}") == "204"
