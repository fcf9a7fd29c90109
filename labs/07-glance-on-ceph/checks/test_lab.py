"""Lab 2.7 checks: uploads land in the Ceph pool as a protected snapshot; a clone keeps them."""

import json

from conftest import SERVICE, expect, setting

RBD = "rbd -c /etc/ceph/ceph.conf --id glance -p images"
FILES = {"/etc/ceph/ceph.conf": "the cluster's fsid and mon_host",
         "/etc/ceph/ceph.client.glance.keyring": "the key of client.glance"}


def test_the_ceph_client_files_are_readable_by_glance_only(host):
    for path, what in FILES.items():
        conf = host.file(path)
        expect(conf.exists, f"{path} ({what}) does not exist",
               "write it: `glancelab lab guide 2.7` gives its lines")
        expect((conf.group, conf.mode) == ("glance", 0o640),
               f"{path} is {conf.user}:{conf.group} mode {oct(conf.mode)[2:]:0>4}",
               f"chown root:glance {path} && chmod 0640 {path}   (the key must not be "
               "world-readable)")


def test_glancelab_reads_the_rbd_store_as_default(host):
    backends = setting(host, "DEFAULT", "enabled_backends")
    expect(backends == "ceph:rbd", f"enabled_backends is {backends or 'unset'}",
           "set enabled_backends = ceph:rbd in [DEFAULT] and default_backend = ceph in "
           f"[glance_store] of /etc/glance/glance-api.conf, then {SERVICE} restart")
    for key, wanted in (("rbd_store_pool", "images"), ("rbd_store_user", "glance")):
        value = setting(host, "ceph", key)
        expect(value == wanted, f"[ceph] {key} is {value or 'unset'}",
               f"set {key} = {wanted} in [ceph], then {SERVICE} restart")


def test_an_upload_is_an_rbd_image_with_a_protected_snapshot(host, api):
    image_id = api.create_image("lab-2.7-image")
    status, message = api.upload(image_id, "head -c 3000000 /dev/urandom")
    try:
        expect(status == 204, f"the upload answered {status}: {message}",
               "check [ceph] rbd_store_user, rbd_store_ceph_conf and the keyring's mode")
        listed = host.run(f"{RBD} ls")
        expect(listed.rc == 0, f"`{RBD} ls` failed: {listed.stderr.strip()[-200:]}",
               "check /etc/ceph/ceph.conf's mon_host and the keyring")
        expect(image_id in listed.stdout.split(), "the uploaded image is not in the images pool: "
               "the running API stores elsewhere", f"{SERVICE} restart")
        info = host.run(f"{RBD} info --format json {image_id}@snap")
        expect(info.rc == 0 and json.loads(info.stdout).get("protected") == "true",
               "the image has no protected snapshot `snap`, as Glance makes")
    finally:
        api.delete(image_id)


def test_a_clone_keeps_the_image_until_it_goes(host, api):
    image_id = api.create_image("lab-2.7-cloned")
    status, message = api.upload(image_id, "echo lab27")
    expect(status == 204, f"the upload answered {status}: {message}",
           "check [ceph] rbd_store_user, rbd_store_ceph_conf and the keyring's mode")
    clone = f"lab27-vm-disk-{image_id[:8]}"
    cloned = host.run(f"{RBD} clone {image_id}@snap images/{clone}")
    if cloned.rc != 0:
        api.delete(image_id)
    expect(cloned.rc == 0, f"cannot clone the image's snapshot: {cloned.stderr.strip()[-200:]}",
           "the image must be in the images pool: set enabled_backends = ceph:rbd, then "
           f"{SERVICE} restart")
    try:
        refused = api.delete(image_id)
    finally:
        host.run(f"{RBD} rm {clone}")
    expect(refused == 409, f"deleting an image whose snapshot has a clone answered {refused}, "
                           "not 409", "grade again: the API refuses while a clone exists")
    expect(api.delete(image_id) == 204, "the image does not delete once its clone is gone")
