"""Ansible's openstack.cloud.image and image_info against the API, as an operator runs them.

The collection and the interpreter its modules run on come from
scripts/install-openstack-collection (make test runs it).
"""

import hashlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from helpers import ADMIN, Client, wait_for_task

ROOT = Path(__file__).resolve().parents[2]
CLOUD_DIR = Path(os.environ.get("OPENSTACK_CLOUD_DIR", ROOT / ".venv-cloud"))
PLAYBOOK = Path(__file__).parent / "playbooks" / "openstack_cloud_image.yml"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"


@pytest.fixture(scope="module")
def collection():
    manifest = CLOUD_DIR / "collections/ansible_collections/openstack/cloud/MANIFEST.json"
    assert manifest.exists(), "run scripts/install-openstack-collection (make test does)"
    return CLOUD_DIR


def run_playbook(cloud_dir: Path, tmp_path: Path, **extra_vars) -> dict:
    results = tmp_path / "results.json"
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(cloud_dir / "collections"),
           "ANSIBLE_LOCALHOST_WARNING": "false",
           "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false"}
    variables = {"ansible_python_interpreter": str(cloud_dir / "bin/python"),
                 "results_file": str(results), **extra_vars}
    run = subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-c", "local",
                          "-e", json.dumps(variables), str(PLAYBOOK)],
                         capture_output=True, text=True, env=env, timeout=300,
                         cwd=tmp_path)  # not the repository: its ansible.cfg is the roles'
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    return json.loads(results.read_text())


def test_openstack_cloud_image_lifecycle(api, collection, tmp_path):
    payload = os.urandom(2 * 1024 * 1024 + 7)
    image_file = tmp_path / "disk.raw"
    image_file.write_bytes(payload)
    name = f"ansible-{uuid.uuid4().hex[:8]}"
    results = run_playbook(collection, tmp_path, glance_url=api.url, image_name=name,
                           image_file=str(image_file))
    admin = Client(api.url, ADMIN)

    created = results["created"]
    assert created["changed"] and created["image"]["status"] == "active"
    assert created["image"]["checksum"] == hashlib.md5(payload).hexdigest()
    assert created["image"]["size"] == len(payload)
    assert sorted(created["image"]["tags"]) == ["ansible", "lab"]
    assert created["image"]["min_ram"] == 64
    image_id = created["image"]["id"]

    assert results["again"]["changed"] is False
    assert results["updated"]["changed"]
    assert results["updated"]["image"]["min_ram"] == 128
    assert results["updated"]["image"]["os_distro"] == "debian"
    assert [i["id"] for i in results["found"]["images"]] == [image_id]
    assert results["deactivated"]["image"]["status"] == "deactivated"
    assert results["reactivated"]["changed"]
    assert results["reactivated"]["image"]["status"] == "active"

    # The SDK returns as soon as the import is accepted; the API finishes it in the background.
    imported_id = results["imported"]["image"]["id"]
    assert wait_for_task(admin, imported_id)["status"] == "success"
    imported = admin.get(f"/v2/images/{imported_id}").json()
    assert imported["status"] == "active"
    assert imported["checksum"] == hashlib.md5(payload).hexdigest()
    assert admin.get(f"/v2/images/{imported['id']}/file").content == payload

    assert results["deleted"]["changed"] and results["deleted_again"]["changed"] is False
    assert admin.get(f"/v2/images/{image_id}").status_code == 404
