"""Lab 2.7 checks: uploads land in the Ceph pool as a protected snapshot; a clone keeps them."""

import json

from conftest import SERVICE, check, expect, need, set_then_restart, setting

from glancelab_toolkit.i18n import _

RBD = "rbd -c /etc/ceph/ceph.conf --id glance -p images"


def _files() -> dict[str, str]:
    return {"/etc/ceph/ceph.conf": _("the cluster's fsid and mon_host"),
            "/etc/ceph/ceph.client.glance.keyring": _("the key of client.glance")}


@check(step=2, title=_("the Ceph client files are readable by glance only"))
def test_the_ceph_client_files_are_readable_by_glance_only(host):
    for path, what in _files().items():
        conf = host.file(path)
        if not expect(conf.exists, _("{path} ({what}) does not exist").format(path=path,
                                                                            what=what),
                      _("write it: `glancelab lab guide 2.7` gives its lines"),
                      _("/root/ceph-client.txt holds what goes in it")):
            continue
        expect((conf.group, conf.mode) == ("glance", 0o640),
               _("{path} is {owner} mode {mode}").format(
                   path=path, owner=f"{conf.user}:{conf.group}",
                   mode=f"{oct(conf.mode)[2:]:0>4}"),
               f"chown root:glance {path} && chmod 0640 {path}   "
               + _("(the key must not be world-readable)"),
               _("the API reads it as glance; nobody else may read the key"))


@check(step=4, title=_("glancelab reads the rbd store as its default"))
def test_glancelab_reads_the_rbd_store_as_default(host):
    backends = setting(host, "DEFAULT", "enabled_backends")
    expect(backends == "ceph:rbd", _("enabled_backends is {value}").format(
               value=backends or _("unset")),
           set_then_restart("enabled_backends = ceph:rbd", "[DEFAULT]") + "   "
           + _("(and default_backend = ceph in [glance_store])"),
           _("each backend is NAME:TYPE in enabled_backends of [DEFAULT]; `glancelab config "
             "get DEFAULT enabled_backends` shows what counts"))
    for key, wanted in (("rbd_store_pool", "images"), ("rbd_store_user", "glance")):
        value = setting(host, "ceph", key)
        expect(value == wanted, _("[ceph] {key} is {value}").format(
                   key=key, value=value or _("unset")),
               set_then_restart(f"{key} = {wanted}", "[ceph]"),
               _("the [ceph] section names the pool and the Ceph user"))


@check(step=5, title=_("an upload is an rbd image with a protected snapshot"))
def test_an_upload_is_an_rbd_image_with_a_protected_snapshot(host, api):
    image_id = api.create_image("lab-2.7-image")
    try:
        status, message = api.upload(image_id, "head -c 3000000 /dev/urandom")
        need(status == 204, _("the upload answered {status}: {message}").format(
                 status=status, message=message),
             _("check [ceph] rbd_store_user, rbd_store_ceph_conf and the keyring's mode"),
             _("the answer names the store and the reason"))
        listed = host.run(f"{RBD} ls")
        need(listed.rc == 0, _("`{command}` failed: {error}").format(
                 command=f"{RBD} ls", error=listed.stderr.strip()[-200:]),
             _("check /etc/ceph/ceph.conf's mon_host and the keyring"),
             _("the guide's step 3 checks the key with this very command"))
        expect(image_id in listed.stdout.split(), _("the uploaded image is not in the images "
               "pool: the running API stores elsewhere"), f"{SERVICE} restart",
               _("the API reads its configuration when it starts"))
        info = host.run(f"{RBD} info --format json {image_id}@snap")
        expect(info.rc == 0 and json.loads(info.stdout).get("protected") == "true",
               _("the image has no protected snapshot `snap`, as Glance makes"), "",
               _("`{command}` shows it").format(command=f"{RBD} snap ls {image_id}"))
    finally:
        api.delete(image_id)


@check(step=5, title=_("a clone keeps the image until it goes"))
def test_a_clone_keeps_the_image_until_it_goes(host, api):
    image_id = api.create_image("lab-2.7-cloned")
    status, message = api.upload(image_id, "echo lab27")
    if status != 204:
        api.delete(image_id)
    need(status == 204, _("the upload answered {status}: {message}").format(
             status=status, message=message),
         _("check [ceph] rbd_store_user, rbd_store_ceph_conf and the keyring's mode"),
         _("the answer names the store and the reason"))
    clone = f"lab27-vm-disk-{image_id[:8]}"
    cloned = host.run(f"{RBD} clone {image_id}@snap images/{clone}")
    if cloned.rc != 0:
        api.delete(image_id)
    need(cloned.rc == 0, _("cannot clone the image's snapshot: {error}").format(
             error=cloned.stderr.strip()[-200:]),
         _("the image must be in the images pool: set enabled_backends = ceph:rbd, then "
           "{command}").format(command=f"{SERVICE} restart"),
         _("Nova clones the snapshot `snap` of the image's rbd image"))
    try:
        refused = api.delete(image_id)
    finally:
        host.run(f"{RBD} rm {clone}")
    expect(refused == 409, _("deleting an image whose snapshot has a clone answered {status}, "
                             "not 409").format(status=refused),
           _("grade again: the API refuses while a clone exists"),
           _("a clone needs its parent snapshot: Glance answers 409 while one exists"))
    expect(api.delete(image_id) == 204, _("the image does not delete once its clone is gone"),
           "", _("the API's log says why it answered so"))
