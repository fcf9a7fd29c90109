"""The toolkit works from an installed wheel, away from any checkout."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel built from this checkout, installed by pip into a directory of its own."""
    build = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "-w", str(build), ROOT],
                   check=True, capture_output=True)
    wheel = next(build.glob("glancelab-*.whl"))
    site = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    "--target", str(site), str(wheel)], check=True, capture_output=True)
    return site


def run_installed(site, tmp_path, *code_or_args, module=False):
    env = {**os.environ, "PYTHONPATH": str(site), "HOME": str(tmp_path),
           "XDG_STATE_HOME": str(tmp_path / "state")}
    env.pop("GLANCELAB_HOME", None)
    args = ["-m", "glancelab", *code_or_args] if module else ["-c", *code_or_args]
    return subprocess.run([sys.executable, *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True)


def test_the_wheel_carries_the_labs_and_finds_them(installed, tmp_path):
    done = run_installed(installed, tmp_path, """
import glancelab_toolkit, json
from glancelab_toolkit.labs import spec
home = spec.home()
print(json.dumps({"package": glancelab_toolkit.__file__, "content": home.content,
                  "state": home.state, "checkout": home.checkout,
                  "labs": [lab.number for lab in spec.all_labs()],
                  "labhost": __import__("os").access(home.script("labhost"), __import__("os").X_OK)}))
""")
    assert done.returncode == 0, done.stderr
    import json
    found = json.loads(done.stdout)
    assert found["package"].startswith(str(installed))  # not the checkout's copy
    assert found["content"].startswith(str(installed)) and not found["checkout"]
    assert found["state"] == str(tmp_path / "state" / "glancelab")  # the user's own state
    import glob
    import yaml
    in_checkout = sorted(yaml.safe_load(open(path))["number"] for path in
                         glob.glob(os.path.join(ROOT, "labs", "*", "lab.yml")))
    assert len(in_checkout) >= 7 and found["labs"] == in_checkout  # every lab travels
    assert found["labhost"], "scripts keep their executable bit in the wheel"


def test_lab_commands_run_from_the_wheel(installed, tmp_path):
    listed = run_installed(installed, tmp_path, "lab", "list", module=True)
    assert listed.returncode == 0, listed.stderr
    assert "01-store-path" in listed.stdout
    guide = run_installed(installed, tmp_path, "lab", "guide", "2.3", "--lang", "vi",
                          module=True)
    assert guide.returncode == 0 and "quota" in guide.stdout.lower()


def test_lab_hosts_need_a_wheelhouse_outside_a_checkout(installed, tmp_path):
    done = run_installed(installed, tmp_path, """
from glancelab_toolkit.labs import hosts, spec
try:
    hosts.wheelhouse()
except spec.LabError as exc:
    print(exc)
""")
    assert "GLANCELAB_WHEELHOUSE" in done.stdout, done.stderr
