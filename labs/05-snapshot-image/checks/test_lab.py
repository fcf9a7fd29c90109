"""Lab 2.5 checks: a 0-byte active image whose data is the snapshot, left where it is."""

import json

SNAPSHOT = "/var/lib/glance/snapshots/vm1-disk.snap"


def test_snapshot_file_is_there(host):
    snapshot = host.file(SNAPSHOT)
    assert snapshot.exists, f"{SNAPSHOT} is missing: make the snapshot first"
    assert snapshot.size == 16 * 1024 * 1024


def test_image_is_active_and_zero_bytes(api):
    images = api.json("/v2/images?name=vm1-snapshot")["images"]
    assert len(images) == 1, "register it: glancelab snapshot import " + SNAPSHOT + " --name vm1-snapshot"
    assert images[0]["status"] == "active" and images[0]["size"] == 0, (
        "the image must be active with size 0: import without --copy")


def test_image_points_at_the_snapshot(api):
    image = api.json("/v2/images?name=vm1-snapshot")["images"][0]
    mapping = json.loads(image["block_device_mapping"])
    assert mapping[0]["source_type"] == "snapshot" and mapping[0]["snapshot_id"] == SNAPSHOT
    assert image["glancelab_snapshot_size"] == str(16 * 1024 * 1024)
