"""Role tests: molecule scenarios on lab hosts, and ansible-lint."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from harness import ROOT

BIN = os.path.dirname(sys.executable)


@pytest.fixture(scope="session")
def role_env(tmp_path_factory):
    """Wheels of this working tree (lab hosts install offline) and a private host state."""
    work = tmp_path_factory.mktemp("roles")
    wheelhouse = work / "wheelhouse"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--wheel-dir", str(wheelhouse),
                    ROOT], check=True, capture_output=True)
    labhosts = work / "labhosts"
    env = {**os.environ, "GLANCELAB_WHEELHOUSE": str(wheelhouse),
           "GLANCELAB_LABHOSTS": str(labhosts), "PATH": f"{BIN}:{os.environ['PATH']}",
           "ANSIBLE_FORCE_COLOR": "0", "PY_COLORS": "0", "MOLECULE_NO_LOG": "false"}
    subprocess.run([os.path.join(ROOT, "scripts/labhost"), "init"], env=env, check=True,
                   capture_output=True)
    yield env
    subprocess.run([os.path.join(ROOT, "scripts/labhost"), "purge"], env=env, check=False,
                   capture_output=True)
