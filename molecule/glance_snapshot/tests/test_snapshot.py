"""After lab 2.5: a 0-byte active image whose data is the snapshot, left where it is."""

import json


def test_snapshot_file(host):
    snapshot = host.file("/var/lib/glance/snapshots/vm1-disk.snap")
    assert snapshot.exists and snapshot.size == 8 * 1024 * 1024


def test_image_is_zero_bytes_and_points_at_the_snapshot(host):
    api = f"http://{host.ansible.get_variables()['ansible_host']}:9292"
    images = json.loads(host.check_output(f"curl -sf '{api}/v2/images?name=vm1-snapshot'"))["images"]
    assert len(images) == 1
    image = images[0]
    assert image["status"] == "active" and image["size"] == 0
    mapping = json.loads(image["block_device_mapping"])
    assert mapping[0]["snapshot_id"] == "/var/lib/glance/snapshots/vm1-disk.snap"
    assert image["glancelab_snapshot_size"] == str(8 * 1024 * 1024)
