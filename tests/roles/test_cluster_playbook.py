"""playbooks/cluster.yml on two lab hosts: both API nodes on one PostgreSQL and one S3,
HAProxy with its own certificate on the first; run twice (the second changes nothing),
then used through the balancer over TLS."""

import os
import re
import subprocess
import time

import requests
import yaml

from harness import ROOT, Postgres, Service, free_port_block
from conftest import BIN

HOSTS = {"c1": "127.0.0.43", "c2": "127.0.0.44"}
LB_PORT = 9191


def test_cluster_playbook_on_two_lab_hosts(role_env, tmp_path):
    labhost = os.path.join(ROOT, "scripts/labhost")
    postgres = Postgres(str(tmp_path / "pg")).start()
    s3 = Service("s3", str(tmp_path / "s3"), free_port_block(8)).start()
    for name, address in HOSTS.items():
        subprocess.run([labhost, "up", name, address], env=role_env, check=True,
                       capture_output=True)
    try:
        inventory = tmp_path / "cluster.yml"
        inventory.write_text(yaml.safe_dump({"all": {
            "vars": {
                "ansible_user": "root", "ansible_python_interpreter": "/usr/bin/python3",
                "ansible_ssh_private_key_file": os.path.join(role_env["GLANCELAB_LABHOSTS"],
                                                             "id_ed25519"),
                "ansible_ssh_common_args": "-o StrictHostKeyChecking=no "
                                           "-o UserKnownHostsFile=/dev/null",
                "glancelab_api_auth_strategy": "noauth",  # loopback lab hosts
                "glancelab_api_wheelhouse": role_env["GLANCELAB_WHEELHOUSE"],
                "glancelab_api_database_connection": postgres.new_database(),
                "glancelab_api_conf_overrides": {
                    "DEFAULT": {"enabled_backends": "s3:s3"},
                    "glance_store": {"default_backend": "s3"},
                    "s3": {"s3_store_host": s3.env["S3_ENDPOINT"],
                           "s3_store_access_key": s3.env["S3_ACCESS_KEY"],
                           "s3_store_secret_key": s3.env["S3_SECRET_KEY"],
                           "s3_store_bucket": "cluster",
                           "s3_store_create_bucket_on_put": "true"}},
                "glance_haproxy_bind_port": LB_PORT,
                "glance_haproxy_check_interval_ms": 500,
            },
            "children": {
                "glance_api": {"hosts": {name: {"ansible_host": address}
                                         for name, address in HOSTS.items()}},
                "glance_lb": {"hosts": {"c1": {}}}}}}))
        command = [os.path.join(BIN, "ansible-playbook"), "-i", str(inventory),
                   "playbooks/cluster.yml"]
        first = subprocess.run(command, cwd=ROOT, env=role_env, capture_output=True, text=True,
                               timeout=1200)
        assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-2000:]
        second = subprocess.run(command, cwd=ROOT, env=role_env, capture_output=True,
                                text=True, timeout=1200)
        assert second.returncode == 0, second.stdout[-6000:]
        recap = re.findall(r"^(c\d)\s+: ok=\d+\s+changed=(\d+)", second.stdout, re.M)
        assert sorted(recap) == [("c1", "0"), ("c2", "0")], second.stdout[-3000:]

        # clients reach the balancer over TLS, with the certificate the role made
        ca = tmp_path / "ca.crt"
        ca.write_text(subprocess.run([labhost, "ssh", "c1", "cat",
                                      "/etc/haproxy/tls/glance-api.crt"], env=role_env,
                                     check=True, capture_output=True, text=True).stdout)
        lb = f"https://{HOSTS['c1']}:{LB_PORT}"
        session = requests.Session()
        session.verify = str(ca)
        session.trust_env = False  # REQUESTS_CA_BUNDLE would replace our CA
        deadline = time.monotonic() + 30
        while session.get(f"{lb}/healthcheck", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, "HAProxy never found a healthy node"
            time.sleep(0.5)
        image = session.post(f"{lb}/v2/images", json={"name": "through-the-balancer",
                                                      "disk_format": "raw",
                                                      "container_format": "bare"}).json()
        data = os.urandom(256 * 1024)
        assert session.put(f"{lb}/v2/images/{image['id']}/file", data=data, headers={
            "Content-Type": "application/octet-stream"}).status_code == 204
        # every node sees it in the shared database and reads it from the shared store
        for address in HOSTS.values():
            node = f"http://{address}:9292"
            assert requests.get(f"{node}/v2/images/{image['id']}").json()["stores"] == "s3"
            assert requests.get(f"{node}/v2/images/{image['id']}/file").content == data
        # glance-direct: staged through one node, imported through the other
        staged = requests.post(f"http://{HOSTS['c1']}:9292/v2/images", json={
            "name": "staged", "disk_format": "raw", "container_format": "bare"}).json()
        assert requests.put(f"http://{HOSTS['c1']}:9292/v2/images/{staged['id']}/stage",
                            data=data, headers={"Content-Type": "application/octet-stream"}
                            ).status_code == 204
        assert requests.post(f"http://{HOSTS['c2']}:9292/v2/images/{staged['id']}/import",
                             json={"method": {"name": "glance-direct"}}).status_code == 202
        deadline = time.monotonic() + 60
        while session.get(f"{lb}/v2/images/{staged['id']}").json()["status"] != "active":
            assert time.monotonic() < deadline, "the import through the other node never ended"
            time.sleep(0.5)
    finally:
        for name in HOSTS:
            subprocess.run([labhost, "destroy", name], env=role_env, check=False,
                           capture_output=True)
        s3.stop()
        postgres.stop()
