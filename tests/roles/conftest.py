"""Role tests: molecule scenarios on lab hosts, and ansible-lint."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys

import pytest

from harness import ROOT

BIN = os.path.dirname(sys.executable)


def build_wheelhouse(run_id: str) -> str:
    """This tree's wheels, built once per test run even with several xdist workers: two
    setuptools builds in one source tree at the same time break each other."""
    base = os.path.join(ROOT, "var", "test-wheelhouse")
    os.makedirs(base, exist_ok=True)
    wheelhouse = os.path.join(base, run_id)
    with open(os.path.join(base, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(os.path.join(wheelhouse, ".built")):
            for old in os.listdir(base):  # earlier runs' wheels
                if old != ".lock":
                    shutil.rmtree(os.path.join(base, old), ignore_errors=True)
            built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--wheel-dir",
                                    wheelhouse, f"{ROOT}[clients]"], capture_output=True,
                                   text=True)
            assert built.returncode == 0, built.stderr[-3000:]
            open(os.path.join(wheelhouse, ".built"), "w").close()
    return wheelhouse


@pytest.fixture(scope="session")
def role_env(tmp_path_factory, testrun_uid):
    """Wheels of this working tree (lab hosts install offline) and a private host state."""
    work = tmp_path_factory.mktemp("roles")
    wheelhouse = build_wheelhouse(testrun_uid)
    labhosts = work / "labhosts"
    lab_home = work / "lab-home"  # the labs' trainee: hosts, slot, attempts
    # Every lab host the tests start (molecule's, the playbooks') reads the wheels where
    # they are, as the labs' hosts do: no copy of them to each host.
    env = {**os.environ, "GLANCELAB_WHEELHOUSE": str(wheelhouse),
           "GLANCELAB_LABHOST_SHARE": str(wheelhouse),
           "GLANCELAB_LABHOSTS": str(labhosts), "GLANCELAB_LAB_HOME": str(lab_home),
           "PATH": f"{BIN}:{os.environ['PATH']}",
           "ANSIBLE_FORCE_COLOR": "0", "PY_COLORS": "0", "MOLECULE_NO_LOG": "false"}
    subprocess.run([os.path.join(ROOT, "scripts/labhost"), "init"], env=env, check=True,
                   capture_output=True)
    yield env
    subprocess.run([os.path.join(ROOT, "scripts/labhost"), "purge"], env=env, check=False,
                   capture_output=True)
    forget_lab_home(env, str(lab_home))


def forget_lab_home(env: dict, lab_home: str) -> None:
    """A trainee gone: their lab hosts and lab servers stopped, their address block free."""
    from glancelab_toolkit.labs.trainee import release_slot
    subprocess.run([os.path.join(ROOT, "scripts/labhost"), "purge"], check=False,
                   env={**env, "GLANCELAB_LABHOSTS": os.path.join(lab_home, "hosts")},
                   capture_output=True)
    services = os.path.join(lab_home, "services")
    for name in os.listdir(services) if os.path.isdir(services) else []:
        subprocess.run([os.path.join(ROOT, "scripts/services", f"{name}-down"),
                        os.path.join(services, name)], check=False, capture_output=True)
    release_slot(lab_home)
