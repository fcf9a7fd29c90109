"""Every role converges on a real SSH lab host, twice without changes, and passes testinfra."""

import os
import re
import subprocess

import pytest

from harness import ROOT
from conftest import BIN

SCENARIOS = sorted(name for name in os.listdir(os.path.join(ROOT, "molecule"))
                   if os.path.exists(os.path.join(ROOT, "molecule", name, "molecule.yml")))


def ceph_vars(ceph_service) -> dict:
    """What the glance_ceph scenario needs to know of the suite's Ceph."""
    env = ceph_service.env
    return {"GLANCE_CEPH_FSID": env["CEPH_FSID"], "GLANCE_CEPH_MON_HOST": env["CEPH_MON_HOST"],
            "GLANCE_CEPH_CLIENT_KEY": env["CEPH_GLANCE_KEY"]}


def keystone_vars(keystone) -> dict:
    """The suite's Keystone, for the scenarios that run the API in keystone mode."""
    return {"GLANCELAB_KEYSTONE_URL": keystone.url,
            "GLANCELAB_KEYSTONE_GLANCE_PASSWORD": keystone.env["KEYSTONE_GLANCE_PASSWORD"],
            "GLANCELAB_KEYSTONE_ADMIN_PASSWORD": keystone.env["OS_PASSWORD"]}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario, role_env, request):
    env = role_env
    if scenario == "glance_ceph":
        env = {**role_env, **ceph_vars(request.getfixturevalue("ceph_service"))}
    if scenario in ("glancelab_api", "glance_keystone"):
        env = {**role_env, **keystone_vars(request.getfixturevalue("keystone"))}
    result = subprocess.run([os.path.join(BIN, "molecule"), "test", "-s", scenario],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    for step in ("check", "converge", "idempotence", "verify"):
        # molecule writes "➜" on a terminal and ">" otherwise
        assert re.search(rf"{scenario} (➜|>) {step}: Executed: Successful", output), output[-3000:]


def test_every_role_has_a_scenario():
    roles = sorted(os.listdir(os.path.join(ROOT, "roles")))
    assert roles and set(roles) <= set(SCENARIOS)


def test_ansible_lint_production_profile(role_env):
    result = subprocess.run([os.path.join(BIN, "ansible-lint"), "--profile", "production",
                             "--offline", "roles", "molecule", "playbooks"],
                            cwd=ROOT, env=role_env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
