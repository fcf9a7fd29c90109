"""`glancelab snapshot import`: an image from a snapshot file or an LVM snapshot.

Without --copy the image is what Nova makes of a volume-backed instance snapshot: active,
0 bytes, carrying block-device-mapping properties that point at the snapshot, whose data
stays where it is. With --copy the data is uploaded and the image is an ordinary one.
"""

from __future__ import annotations

import json
import os
import stat

from glancelab_toolkit.client import ApiClient, ApiError


def resolve_source(source: str) -> str:
    """A file or block device path; VG/LV means /dev/VG/LV."""
    if os.path.exists(source):
        return os.path.abspath(source)
    if source.count("/") == 1 and not source.startswith("/"):
        device = f"/dev/{source}"
        if os.path.exists(device):
            return device
        raise ApiError(f"{source} looks like VG/LV but {device} does not exist; check "
                       "`lvs` for the snapshot's name")
    raise ApiError(f"{source} does not exist")


def source_size(path: str) -> int:
    with open(path, "rb") as handle:
        if stat.S_ISBLK(os.fstat(handle.fileno()).st_mode):
            return handle.seek(0, os.SEEK_END)
        return os.fstat(handle.fileno()).st_size


def snapshot_properties(path: str, size: int) -> dict[str, str]:
    mapping = [{
        "source_type": "snapshot", "destination_type": "volume", "boot_index": 0,
        "device_name": "/dev/vda", "delete_on_termination": False,
        "snapshot_id": path, "volume_size": max(1, -(-size // (1024 ** 3))),
    }]
    return {
        "block_device_mapping": json.dumps(mapping),
        "bdm_v2": "True",
        "root_device_name": "/dev/vda",
        "glancelab_snapshot_source": path,
        "glancelab_snapshot_size": str(size),
    }


def import_snapshot(client: ApiClient, source: str, name: str | None, copy: bool,
                    disk_format: str, progress: bool) -> dict:
    path = resolve_source(source)
    try:
        size = source_size(path)
    except OSError as exc:
        raise ApiError(f"cannot read {path}: {exc.strerror}") from exc
    body = {"name": name or os.path.basename(path), "disk_format": disk_format,
            "container_format": "bare"}
    if not copy:
        body.update(snapshot_properties(path, size))
    image = client.call("POST", "/v2/images", body, expect=(201,))
    try:
        if copy:
            with open(path, "rb") as handle:
                client.upload(image["id"], handle, size, progress)
        else:
            client.upload(image["id"], open(os.devnull, "rb"), 0, progress=False)
    except ApiError:
        client.call("DELETE", f"/v2/images/{image['id']}", expect=(204, 404))
        raise
    return client.call("GET", f"/v2/images/{image['id']}")
