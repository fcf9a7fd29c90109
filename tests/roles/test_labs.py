"""Every lab end to end through `glancelab lab run`, its checks, a failing check, and reset."""

import os
import subprocess

import pytest

from conftest import BIN
from harness import ROOT

LABS = ["2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7"]


def glancelab(role_env, *args, timeout=900):
    return subprocess.run([os.path.join(BIN, "glancelab"), *args], cwd=ROOT, env=role_env,
                          capture_output=True, text=True, timeout=timeout)


def on_host(role_env, host, command):
    return subprocess.run([os.path.join(ROOT, "scripts/labhost"), "ssh", host, command],
                          env=role_env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def lab_services_stopped_after(number):
    """Stop this lab's own services afterwards (never another xdist worker's lab's)."""
    yield
    from glancelab_toolkit import labs
    labs.stop_services(labs.find(number))


@pytest.mark.parametrize("number", LABS)
def test_lab_runs_and_passes_its_checks(role_env, number, lab_services_stopped_after):
    result = glancelab(role_env, "lab", "run", number)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert " 0 failed" in result.stdout.splitlines()[-1]
    assert "playbook" in result.stdout and "pass" in result.stdout
    # live progress: one line per task and host, as it happened
    assert " changed     Install glancelab in its virtualenv" in result.stdout
    host = next(line.split()[0] for line in
                glancelab(role_env, "lab", "list").stdout.splitlines() if line.startswith(number))
    assert host == number
    glancelab(role_env, "lab", "reset", number)


def test_failing_check_says_what_to_fix_and_reset_starts_over(role_env):
    assert glancelab(role_env, "lab", "run", "2.1").returncode == 0
    assert on_host(role_env, "l21", "chmod 0700 /srv/glance/images").returncode == 0
    check = glancelab(role_env, "lab", "check", "2.1")
    assert check.returncode == 1
    assert "FAIL" in check.stdout and "chmod 0750 /srv/glance/images" in check.stdout
    reset = glancelab(role_env, "lab", "reset", "2.1")
    assert reset.returncode == 0 and "l21 reset" in reset.stdout
    fresh = on_host(role_env, "l21", "test -e /etc/glance || test -e /srv/glance; echo $?")
    assert fresh.stdout.strip() == "1", "reset left the lab's changes on the host"


def test_guides_exist_in_both_languages(role_env):
    for number in LABS:
        english = glancelab(role_env, "lab", "guide", number)
        vietnamese = glancelab(role_env, "lab", "guide", number, "--lang", "vi")
        assert english.returncode == 0 and english.stdout.startswith(f"# Lab {number}")
        assert vietnamese.returncode == 0 and vietnamese.stdout.startswith(f"# Bài {number}")
    assert glancelab(role_env, "lab", "run", "9.9").returncode == 2
