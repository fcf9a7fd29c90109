"""What a lab start reuses from the machine: a layer every lab host sees installed
(scripts/labhost bake), and a lab Keystone copied from a bootstrapped template with
passwords of its own (scripts/services/keystone-up)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import urllib.error
import urllib.request

import pytest

from harness import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LABHOST = os.path.join(ROOT, "scripts", "labhost")
SERVICES = os.path.join(ROOT, "scripts", "services")


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="lab hosts need root and unshare")
def test_hosts_see_a_baked_layer_that_they_cannot_change(tmp_path):
    env = {**os.environ, "GLANCELAB_LABHOSTS": str(tmp_path / "hosts")}
    script = tmp_path / "bake.sh"
    script.write_text("mkdir -p /opt/layer-test && echo baked > /opt/layer-test/file\n")
    layer = tmp_path / "layer"
    baked = subprocess.run([LABHOST, "bake", str(layer), str(script)], env=env,
                           capture_output=True, text=True, timeout=120)
    assert baked.returncode == 0, baked.stderr
    assert (layer / "opt" / "layer-test" / "file").read_text() == "baked\n"
    assert not os.path.exists("/opt/layer-test")  # this machine itself is untouched

    def on_host(command):
        return subprocess.run([LABHOST, "ssh", "layered", command], env=env,
                              capture_output=True, text=True, timeout=60)

    up = subprocess.run([LABHOST, "up", "layered", "127.254.0.7"], capture_output=True,
                        text=True, timeout=120,
                        env={**env, "GLANCELAB_LABHOST_LAYER": str(layer)})
    try:
        assert up.returncode == 0, up.stderr
        assert on_host("cat /opt/layer-test/file").stdout == "baked\n"
        assert on_host("echo changed > /opt/layer-test/file").returncode == 0
        assert on_host("cat /opt/layer-test/file").stdout == "changed\n"
        # the host's change stays its own: the layer, which other hosts share, is as baked
        assert (layer / "opt" / "layer-test" / "file").read_text() == "baked\n"
        reset = subprocess.run([LABHOST, "reset", "layered"], env=env, capture_output=True,
                               text=True, timeout=120)
        assert reset.returncode == 0, reset.stderr
        # reset forgets the host's changes, not the layer it was started with
        assert on_host("cat /opt/layer-test/file").stdout == "baked\n"
    finally:
        subprocess.run([LABHOST, "purge"], env=env, capture_output=True, timeout=120)


def _exports(stdout: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in stdout.split("export", 1)[1].split())


def _token(auth_url: str, user: str, password: str) -> str:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
    request = urllib.request.Request(f"{auth_url}/auth/tokens", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.headers["X-Subject-Token"]


def test_a_lab_keystone_has_random_passwords_kept_0600_and_names_its_own_port(tmp_path):
    state, port = tmp_path / "keystone", free_port()
    env = {**os.environ, "KEYSTONE_PASSWORDS": "random"}
    up = [os.path.join(SERVICES, "keystone-up"), str(state), str(port)]
    try:
        first = subprocess.run(up, env=env, capture_output=True, text=True, timeout=300)
        assert first.returncode == 0, first.stderr[-3000:]
        exported = _exports(first.stdout)
        passwords = state / "passwords"
        assert stat.S_IMODE(os.stat(passwords).st_mode) == 0o600
        secrets = {exported[key] for key in ("OS_PASSWORD", "KEYSTONE_GLANCE_PASSWORD",
                                             "KEYSTONE_DEMO_PASSWORD",
                                             "KEYSTONE_READER_PASSWORD")}
        assert len(secrets) == 4 and all(len(secret) >= 20 for secret in secrets)
        assert not secrets & {"admin", "glance", "demo", "reader"}
        auth_url = exported["OS_AUTH_URL"]
        token = _token(auth_url, "admin", exported["OS_PASSWORD"])
        with pytest.raises(urllib.error.HTTPError) as refused:
            _token(auth_url, "admin", "admin")  # the template's bootstrap password is gone
        assert refused.value.code == 401
        # the database came from a template bootstrapped on another port: the catalogue
        # names this one
        request = urllib.request.Request(f"{auth_url}/endpoints",
                                         headers={"X-Auth-Token": token})
        with urllib.request.urlopen(request, timeout=30) as answer:
            urls = {endpoint["url"] for endpoint in json.load(answer)["endpoints"]}
        assert auth_url in urls and not any(u.endswith("/v3") and u != auth_url for u in urls)
        again = subprocess.run(up, env=env, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0 and _exports(again.stdout) == exported  # reused, same users
    finally:
        subprocess.run([os.path.join(SERVICES, "keystone-down"), str(state)],
                       capture_output=True, timeout=60)
