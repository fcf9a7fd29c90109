"""Lab 2.5 checks: a 0-byte active image whose data is the snapshot, left where it is."""

import json

from conftest import SERVICE, expect, setting

SNAPSHOT = "/var/lib/glance/snapshots/vm1-disk.snap"
NAME = "vm1-snapshot"
IMPORT = f"glancelab snapshot import {SNAPSHOT} --name {NAME}"
SIZE = 16 * 1024 * 1024


def snapshot_image(api) -> dict:
    images = api.json(f"/v2/images?name={NAME}")["images"]
    expect(images, f"no image is called {NAME}", f"source ~/admin-openrc; {IMPORT}")
    expect(len(images) == 1, f"{len(images)} images are called {NAME}",
           "keep one: glance image-delete <id> for the others")
    return images[0]


def test_the_snapshot_file_is_there(host):
    snapshot = host.file(SNAPSHOT)
    expect(snapshot.exists, f"{SNAPSHOT} does not exist",
           f"mkdir -p {SNAPSHOT.rsplit('/', 1)[0]} && cp /srv/vms/vm1-disk.img {SNAPSHOT}")
    expect(snapshot.size == SIZE, f"{SNAPSHOT} has {snapshot.size} bytes, the disk {SIZE}",
           f"cp /srv/vms/vm1-disk.img {SNAPSHOT}")


def test_the_api_may_read_the_snapshot_directory(host):
    allowed = [d.strip().rstrip("/") for d in
               setting(host, "glancelab", "file_location_dirs").split(",") if d.strip()]
    expect("/var/lib/glance/snapshots" in allowed,
           f"file_location_dirs is {', '.join(allowed) or 'unset'}: the API refuses file:// "
           "locations outside the directories it names",
           "set file_location_dirs = /var/lib/glance/snapshots in [glancelab] of "
           f"/etc/glance/glance-api.conf, then {SERVICE} restart")


def test_the_image_is_active_with_0_bytes(api):
    image = snapshot_image(api)
    expect(image["status"] == "active", f"{NAME} is {image['status']}, not active",
           f"glance image-delete {image['id']}; {IMPORT}")
    expect(image["size"] == 0, f"{NAME} holds {image['size']} bytes: its data was copied",
           f"glance image-delete {image['id']}; {IMPORT}   (without --copy)")


def test_the_image_points_at_the_snapshot(api):
    image = snapshot_image(api)
    try:
        mapping = json.loads(image.get("block_device_mapping") or "[]")
    except ValueError:
        mapping = []
    expect(mapping and mapping[0].get("source_type") == "snapshot"
           and mapping[0].get("snapshot_id") == SNAPSHOT,
           f"{NAME} does not name {SNAPSHOT} in its block_device_mapping",
           f"glance image-delete {image['id']}; {IMPORT}")
    expect(image.get("glancelab_snapshot_size") == str(SIZE),
           f"{NAME} records a snapshot of {image.get('glancelab_snapshot_size')} bytes, "
           f"the file has {SIZE}", f"glance image-delete {image['id']}; {IMPORT}")
