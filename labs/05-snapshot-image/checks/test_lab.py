"""Lab 2.5 checks: a 0-byte active image whose data is the snapshot, left where it is."""

import json

from conftest import check, expect, need, set_then_restart, setting

from glancelab_toolkit.i18n import _

SNAPSHOT = "/var/lib/glance/snapshots/vm1-disk.snap"
NAME = "vm1-snapshot"
IMPORT = f"glancelab snapshot import {SNAPSHOT} --name {NAME}"
SIZE = 16 * 1024 * 1024


def snapshot_image(api) -> dict:
    images = api.json(f"/v2/images?name={NAME}")["images"]
    need(images, _("no image is called {name}").format(name=NAME),
         f"source ~/admin-openrc; {IMPORT}", _("the guide's step 3 registers it"))
    need(len(images) == 1, _("{count} images are called {name}").format(count=len(images),
                                                                          name=NAME),
         _("keep one: glance image-delete <id> for the others"),
         _("`glance image-list` shows them all; the grader cannot tell which one you meant"))
    return images[0]


@check(step=1, title=_("the snapshot file is there"))
def test_the_snapshot_file_is_there(host):
    snapshot = host.file(SNAPSHOT)
    need(snapshot.exists, _("{path} does not exist").format(path=SNAPSHOT),
         f"mkdir -p {SNAPSHOT.rsplit('/', 1)[0]} && cp /srv/vms/vm1-disk.img {SNAPSHOT}",
         _("the guide's step 1 takes it"))
    expect(snapshot.size == SIZE, _("{path} has {size} bytes, the disk {disk}").format(
               path=SNAPSHOT, size=snapshot.size, disk=SIZE),
           f"cp /srv/vms/vm1-disk.img {SNAPSHOT}",
           _("a snapshot is the whole disk at one moment: compare `ls -l` of both"))


@check(step=2, title=_("the API may read the snapshot directory"))
def test_the_api_may_read_the_snapshot_directory(host):
    allowed = [d.strip().rstrip("/") for d in
               setting(host, "glancelab", "file_location_dirs").split(",") if d.strip()]
    expect("/var/lib/glance/snapshots" in allowed,
           _("file_location_dirs is {value}: the API refuses file:// locations outside the "
             "directories it names").format(value=", ".join(allowed) or _("unset")),
           set_then_restart("file_location_dirs = /var/lib/glance/snapshots", "[glancelab]"),
           _("`glancelab config get glancelab file_location_dirs` shows what counts"))


@check(step=3, title=_("the image is active with 0 bytes"))
def test_the_image_is_active_with_0_bytes(api):
    image = snapshot_image(api)
    expect(image["status"] == "active", _("{name} is {status}, not active").format(
               name=NAME, status=image["status"]),
           f"glance image-delete {image['id']}; {IMPORT}",
           _("`glance image-show {name}` shows its status").format(name=NAME))
    expect(image["size"] == 0, _("{name} holds {size} bytes: its data was copied").format(
               name=NAME, size=image["size"]),
           f"glance image-delete {image['id']}; {IMPORT}   " + _("(without --copy)"),
           _("a snapshot image is metadata only: the data stays in the snapshot"))


@check(step=4, title=_("the image points at the snapshot"))
def test_the_image_points_at_the_snapshot(api):
    image = snapshot_image(api)
    try:
        mapping = json.loads(image.get("block_device_mapping") or "[]")
    except ValueError:
        mapping = []
    expect(mapping and mapping[0].get("source_type") == "snapshot"
           and mapping[0].get("snapshot_id") == SNAPSHOT,
           _("{name} does not name {path} in its block_device_mapping").format(
               name=NAME, path=SNAPSHOT),
           f"glance image-delete {image['id']}; {IMPORT}",
           _("`glance image-show {name}` shows block_device_mapping").format(name=NAME))
    expect(image.get("glancelab_snapshot_size") == str(SIZE),
           _("{name} records a snapshot of {size} bytes, the file has {file_size}").format(
               name=NAME, size=image.get("glancelab_snapshot_size"), file_size=SIZE),
           f"glance image-delete {image['id']}; {IMPORT}",
           _("the image was registered before the snapshot was whole"))
