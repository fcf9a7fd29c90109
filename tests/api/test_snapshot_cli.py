"""glancelab snapshot import: a 0-byte image pointing at a snapshot, or a copy."""

import hashlib
import json
import os
import subprocess

from harness import GLANCELAB


def run(api, *args):
    return subprocess.run([GLANCELAB, "snapshot", "import", "--os-image-url", api.url, *args],
                          capture_output=True, text=True, timeout=120)


def test_register_snapshot_file_without_copying(api, admin, tmp_path):
    snapshot = tmp_path / "vm1-snap.img"
    snapshot.write_bytes(os.urandom(3 * 1024 * 1024))
    result = run(api, str(snapshot), "--name", "vm1-snapshot")
    assert result.returncode == 0, result.stderr
    image_id = result.stdout.split()[0]
    image = admin.get(f"/v2/images/{image_id}").json()
    assert image["status"] == "active" and image["size"] == 0
    assert image["name"] == "vm1-snapshot"
    mapping = json.loads(image["block_device_mapping"])
    assert mapping[0]["source_type"] == "snapshot"
    assert mapping[0]["snapshot_id"] == str(snapshot)
    assert image["bdm_v2"] == "True" and image["root_device_name"] == "/dev/vda"
    assert image["glancelab_snapshot_size"] == str(3 * 1024 * 1024)
    assert admin.get(f"/v2/images/{image_id}/file").content == b""
    assert image_id not in os.listdir(api.datadir) or \
        os.path.getsize(os.path.join(api.datadir, image_id)) == 0


def test_copy_uploads_the_data_with_progress(api, admin, tmp_path):
    snapshot = tmp_path / "vm2-snap.img"
    payload = os.urandom(5 * 1024 * 1024)
    snapshot.write_bytes(payload)
    result = run(api, str(snapshot), "--copy")
    assert result.returncode == 0, result.stderr
    assert "100.0%" in result.stderr
    image_id = result.stdout.split()[0]
    image = admin.get(f"/v2/images/{image_id}").json()
    assert image["size"] == len(payload)
    assert image["checksum"] == hashlib.md5(payload).hexdigest()
    assert "block_device_mapping" not in image


def test_missing_source_is_a_clear_error(api, tmp_path):
    result = run(api, str(tmp_path / "nope.img"))
    assert result.returncode == 1
    assert "does not exist" in result.stderr
    result = run(api, "novg/nolv")
    assert result.returncode == 1 and "VG/LV" in result.stderr


def test_block_device_snapshot_is_registered_or_copied(api, admin, block_device):
    device, payload = block_device
    result = run(api, device, "--name", "lv-snapshot")
    assert result.returncode == 0, result.stderr
    image = admin.get(f"/v2/images/{result.stdout.split()[0]}").json()
    assert image["status"] == "active" and image["size"] == 0
    assert json.loads(image["block_device_mapping"])[0]["snapshot_id"] == device
    assert image["glancelab_snapshot_size"] == str(len(payload))  # the device's size, not 0

    result = run(api, device, "--copy")
    assert result.returncode == 0, result.stderr
    image = admin.get(f"/v2/images/{result.stdout.split()[0]}").json()
    assert image["size"] == len(payload)
    assert image["checksum"] == hashlib.md5(payload).hexdigest()
