"""What the cluster tests share: the previous release's code, to upgrade from."""

from __future__ import annotations

import subprocess

import pytest

from harness import ROOT

# The release before this one: its nodes run beside this checkout's during an upgrade.
PREVIOUS_RELEASE = "v0.1.0"


@pytest.fixture(scope="session")
def previous_release(tmp_path_factory) -> str:
    """The previous release's api/ directory (run with this checkout's dependencies)."""
    target = tmp_path_factory.mktemp("previous-release")
    archive = subprocess.run(["git", "-C", ROOT, "archive", "--format=tar", PREVIOUS_RELEASE,
                              "api"], capture_output=True)
    if archive.returncode:
        pytest.fail(f"the previous release {PREVIOUS_RELEASE} is not in this clone "
                    f"(git fetch --tags): {archive.stderr.decode()[-300:]}")
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return str(target / "api")
