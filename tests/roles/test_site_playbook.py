"""playbooks/site.yml with inventory/labhosts.yml: two hosts, every lab role, twice."""

import json
import os
import re
import subprocess
import urllib.request

from harness import ROOT
from conftest import BIN

HOSTS = {"lab1": "127.0.0.11", "lab2": "127.0.0.12"}


def test_site_playbook_on_two_lab_hosts(role_env):
    labhost = os.path.join(ROOT, "scripts/labhost")
    for name, address in HOSTS.items():
        subprocess.run([labhost, "up", name, address], env=role_env, check=True,
                       capture_output=True)
    try:
        command = [os.path.join(BIN, "ansible-playbook"), "-i", "inventory/labhosts.yml",
                   "playbooks/site.yml", "-e",
                   f"glancelab_api_wheelhouse={role_env['GLANCELAB_WHEELHOUSE']}"]
        first = subprocess.run(command, cwd=ROOT, env=role_env, capture_output=True, text=True,
                               timeout=900)
        assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-2000:]
        second = subprocess.run(command, cwd=ROOT, env=role_env, capture_output=True, text=True,
                                timeout=900)
        assert second.returncode == 0, second.stdout[-6000:]
        recap = re.findall(r"^(lab\d)\s+: ok=\d+\s+changed=(\d+)", second.stdout, re.M)
        assert sorted(recap) == [("lab1", "0"), ("lab2", "0")], second.stdout[-3000:]
        for address in HOSTS.values():
            with urllib.request.urlopen(f"http://{address}:9292/v2/info/stores") as response:
                stores = json.load(response)["stores"]
            assert [s["id"] for s in stores] == ["fast", "cheap"]
            with urllib.request.urlopen(f"http://{address}:9292/v2/images?name=vm1-snapshot") as response:
                images = json.load(response)["images"]
            assert len(images) == 1 and images[0]["size"] == 0
    finally:
        for name in HOSTS:
            subprocess.run([labhost, "destroy", name], env=role_env, check=False,
                           capture_output=True)
