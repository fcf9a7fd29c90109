"""What the cluster tests share: the previous release's code, to upgrade from."""

from __future__ import annotations

import subprocess

import pytest

from harness import ROOT

# The release before this one: its nodes run beside this checkout's during an upgrade.
# By tag, else by its commit (a clone made without tags still has the history).
PREVIOUS_RELEASE = ("v0.4.0", "7d0b5113598ac05fe7dfe611db4089ecd209a9d1")


@pytest.fixture(scope="session")
def previous_release(tmp_path_factory) -> str:
    """The previous release's api/ directory (run with this checkout's dependencies)."""
    target = tmp_path_factory.mktemp("previous-release")
    for name in PREVIOUS_RELEASE:
        archive = subprocess.run(["git", "-C", ROOT, "archive", "--format=tar", name, "api"],
                                 capture_output=True)
        if archive.returncode == 0:
            break
    else:
        pytest.skip(f"the previous release {PREVIOUS_RELEASE[0]} is not in this clone "
                    "(a shallow clone? git fetch --tags --unshallow)")
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return str(target / "api")
