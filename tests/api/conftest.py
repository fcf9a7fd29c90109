import os
import subprocess

import pytest

from helpers import as_admin, as_member


@pytest.fixture
def admin(api):
    return as_admin(api)


@pytest.fixture
def alice(api):
    return as_member(api, "project-alice")


@pytest.fixture
def bob(api):
    return as_member(api, "project-bob")


@pytest.fixture
def reader(api):
    return as_member(api, "project-alice", roles="reader")


@pytest.fixture
def block_device(tmp_path):
    """A real block device holding 4 MiB of random data: a loop device over a file."""
    if not os.path.exists("/dev/loop-control"):
        pytest.skip("this kernel offers no loop devices (/dev/loop-control)")
    payload = os.urandom(4 * 1024 * 1024)
    backing = tmp_path / "volume.img"
    backing.write_bytes(payload)
    attach = subprocess.run(["losetup", "--find", "--show", str(backing)],
                            capture_output=True, text=True)
    assert attach.returncode == 0, f"losetup failed: {attach.stderr}"
    device = attach.stdout.strip()
    yield device, payload
    subprocess.run(["losetup", "-d", device], check=False)
