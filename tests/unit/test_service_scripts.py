"""The init script the glancelab_api role installs tells the truth: `start` returns once
/healthcheck answers, or fails with the reason from the log; `status` says running or not
and why. Rendered from the role's template and run here with start-stop-daemon."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
import subprocess
import sys

import jinja2
import pytest

from harness import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATES = os.path.join(ROOT, "roles", "glancelab_api", "templates")

pytestmark = pytest.mark.skipif(shutil.which("start-stop-daemon") is None,
                                reason="start-stop-daemon (Debian's dpkg) is not installed")


@pytest.fixture
def node(tmp_path):
    """A node's files as the role lays them out, and its init script."""
    for folder in ("etc", "log", "images", "home"):
        (tmp_path / folder).mkdir()
    port = free_port()
    conf = tmp_path / "etc" / "glance-api.conf"
    good = (f"[DEFAULT]\nbind_host = 127.0.0.1\nbind_port = {port}\nworkers = 1\n"
            f"[database]\nconnection = sqlite:///{tmp_path}/glance.sqlite\n"
            f"[glance_store]\nstores = file\ndefault_store = file\n"
            f"filesystem_store_datadir = {tmp_path}/images\n")
    conf.write_text(good)
    script = jinja2.Template((open(os.path.join(TEMPLATES, "glancelab-api.init.j2")).read())
                             ).render(
        ansible_managed="rendered by the test", glancelab_api_venv=os.path.dirname(
            os.path.dirname(sys.executable)), glancelab_api_config_dir=str(tmp_path / "etc"),
        glancelab_api_log_dir=str(tmp_path / "log"), glancelab_api_home=str(tmp_path / "home"),
        glancelab_api_user=pwd.getpwuid(os.getuid()).pw_name,
        glancelab_api_group=grp.getgrgid(os.getgid()).gr_name, glancelab_api_start_timeout=30)
    # the one line the test changes: its own pid file, not /run's
    script = script.replace("PIDFILE=/run/$NAME.pid", f"PIDFILE={tmp_path}/api.pid")
    path = tmp_path / "glancelab-api"
    path.write_text(script)

    class Node:
        def run(self, action: str) -> subprocess.CompletedProcess:
            return subprocess.run(["sh", str(path), action], capture_output=True, text=True,
                                  timeout=120)

        def configure(self, extra: str) -> None:
            conf.write_text(good.replace("[DEFAULT]\n", "[DEFAULT]\n" + extra, 1))

        def listen_on(self, other_port: int) -> None:
            conf.write_text(good.replace(f"bind_port = {port}", f"bind_port = {other_port}"))

    yield Node()
    Node().run("stop")


def test_start_waits_for_health_and_status_says_why(node):
    started = node.run("start")
    assert started.returncode == 0, started.stdout + started.stderr
    assert "glancelab-api is up" in started.stdout and "answers 200" in started.stdout
    status = node.run("status")
    assert status.returncode == 0 and "running" in status.stdout and "healthy" in status.stdout
    assert "already running" in node.run("start").stdout
    assert node.run("stop").returncode == 0
    stopped = node.run("status")
    assert stopped.returncode == 3 and "is not running" in stopped.stdout


@pytest.mark.parametrize("break_it, reason", [
    # a quota with a unit Glance does not read: the configuration is refused as read
    (lambda node, root: node.configure("user_storage_quota = 10MiB\n"), "user_storage_quota"),
    # the store's directory is a file: refused as the server prepares its stores (the
    # reason is in the log)
    (lambda node, root: (os.rmdir(root / "images"), (root / "images").write_text("x")),
     "exists and is not a directory"),
])
def test_a_refused_configuration_fails_start_and_restart_with_the_reason(node, tmp_path,
                                                                          break_it, reason):
    assert node.run("start").returncode == 0
    break_it(node, tmp_path)
    for action in ("restart", "start"):
        failed = node.run(action)
        assert failed.returncode == 1, (action, failed.stdout, failed.stderr)
        assert "glancelab-api stopped while starting" in failed.stdout
        assert reason in failed.stdout, failed.stdout
        assert "Fix what it names" in failed.stdout
        assert "Traceback" not in failed.stdout + failed.stderr
    status = node.run("status")
    assert status.returncode in (1, 3) and "is not running" in status.stdout
    assert reason in status.stdout  # the log's last lines say why


def test_a_busy_port_is_named_with_the_option_that_moves_it(node, tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        node.listen_on(port)
        failed = node.run("start")
    assert failed.returncode == 1
    assert f"127.0.0.1:{port} is already in use by another program" in failed.stdout
    assert "bind_port" in failed.stdout and "Traceback" not in failed.stdout
    assert "Retrying" not in failed.stdout  # gunicorn's own loop never began


def test_the_sample_image_is_a_real_qcow2_that_glance_would_accept(tmp_path):
    """`make sample-image`: what the README uploads, inspected as Glance inspects uploads."""
    from oslo_utils.imageutils import format_inspector
    out = tmp_path / "sample.qcow2"
    subprocess.run([os.path.join(ROOT, "scripts", "make-sample-image"), str(out)], check=True,
                   capture_output=True, timeout=60)
    inspector = format_inspector.detect_file_format(str(out))
    assert str(inspector) == "qcow2" and inspector.virtual_size == 16 * 1024 * 1024
    inspector.safety_check()  # no backing file, no data file: raises if unsafe
