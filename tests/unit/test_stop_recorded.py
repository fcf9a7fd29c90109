"""scripts/services/stop-recorded: every *-down script stops the process its pid file
records, and never a process that merely has that number now."""

import os
import subprocess
import time

from harness import ROOT

STOP = os.path.join(ROOT, "scripts", "services", "stop-recorded")


def _started(tmp_path, pidfile_age: float = 0.0):
    process = subprocess.Popen(["sleep", "300"], start_new_session=True)
    pidfile = tmp_path / "service.pid"
    pidfile.write_text(f"{process.pid}\n")
    if pidfile_age:
        written = time.time() - pidfile_age
        os.utime(pidfile, (written, written))
    return process, pidfile


def _stop(*args):
    return subprocess.run([STOP, *map(str, args)], capture_output=True, text=True, timeout=30)


def test_the_recorded_process_is_stopped_and_its_file_removed(tmp_path):
    process, pidfile = _started(tmp_path)
    assert _stop("--wait", 2, pidfile, "^sleep 300").returncode == 0
    assert process.wait(timeout=5) is not None
    assert not pidfile.exists()


def test_a_pid_that_now_names_another_program_is_left_alone(tmp_path):
    process, pidfile = _started(tmp_path)
    try:
        result = _stop(pidfile, "haproxy")
        assert result.returncode == 0 and "left alone" in result.stderr
        assert process.poll() is None and not pidfile.exists()
    finally:
        process.kill()
        process.wait()


def test_a_process_younger_than_its_pid_file_is_left_alone(tmp_path):
    """A pid file written an hour before the process it names started: the number was
    reused after a crash or a reboot."""
    process, pidfile = _started(tmp_path, pidfile_age=3600)
    try:
        assert "left alone" in _stop(pidfile, "sleep").stderr
        assert process.poll() is None
    finally:
        process.kill()
        process.wait()


def test_a_missing_or_stale_file_is_no_error(tmp_path):
    assert _stop(tmp_path / "none.pid", "x").returncode == 0
    (tmp_path / "dead.pid").write_text("999999999\n")
    assert _stop(tmp_path / "dead.pid", "x").returncode == 0


def test_keystone_up_never_takes_a_keystone_it_did_not_start(tmp_path):
    """Something else answering on the lab Keystone's port is refused, not reused (its
    users and passwords are not the lab's)."""
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        done = subprocess.run([os.path.join(ROOT, "scripts", "services", "keystone-up"),
                               str(tmp_path / "keystone"), str(port)], capture_output=True,
                              text=True, timeout=60)
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 1 and done.stdout == ""
    assert f"something else answers on 127.0.0.1:{port}" in done.stderr
