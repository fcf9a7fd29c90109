"""glance-api.conf files written the way Glance's install guide and devstack write them start
unchanged: only the database URL and the directories point into the test's own directory."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time

import pytest
import requests

from harness import GLANCELAB, ApiServer
from helpers import ADMIN, Client

# The install guide's sections (keystone auth through paste, multi-store with one file
# backend, unified limits), and devstack's additions (bracketed import methods, staging and
# tasks stores, the cache, logging format strings, a second paste flavor).
GUIDE_STYLE = """\
[DEFAULT]
bind_host = 127.0.0.1
bind_port = {port}
workers = 1
debug = True
use_syslog = False
logging_context_format_string = %(asctime)s.%(msecs)03d %(levelname)s %(name)s [%(request_id)s] %(message)s
enabled_backends = fs:file, cheap:file
enabled_import_methods = [glance-direct,web-download,copy-image]
show_image_direct_url = True
image_cache_dir = {work}/cache/
use_keystone_limits = False
transport_url = rabbit://stackrabbit:secret@127.0.0.1:5672/

[database]
connection = {database}

[keystone_authtoken]
www_authenticate_uri = {keystone}
auth_url = {keystone}
memcached_servers = 127.0.0.1:11211
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = glance
password = glance

[paste_deploy]
flavor = keystone+cachemanagement

[glance_store]
default_backend = fs

[fs]
filesystem_store_datadir = {work}/images/

[cheap]
filesystem_store_datadirs = {work}/cheap-a/:100
filesystem_store_datadirs = {work}/cheap-b/:200

[os_glance_staging_store]
filesystem_store_datadir = {work}/os_glance_staging_store/

[os_glance_tasks_store]
filesystem_store_datadir = {work}/os_glance_tasks_store/

[oslo_limit]
auth_url = {keystone}
auth_type = password
user_domain_id = default
username = glance
system_scope = all
password = GLANCE_PASS
endpoint_id = 0123456789abcdef
region_name = RegionOne

[oslo_policy]
enforce_new_defaults = True
enforce_scope = True

[wsgi]
python_interpreter = /usr/bin/python3
"""


class FileServer(ApiServer):
    keystone_url = ""

    def write_config(self) -> None:
        os.makedirs(self.workdir, exist_ok=True)
        with open(self.config_path, "w") as conf:
            conf.write(GUIDE_STYLE.format(port=self.port, work=self.workdir,
                                          database=self.database_url,
                                          keystone=self.keystone_url))


@pytest.fixture(scope="module")
def guide_server(tmp_path_factory, keystone):
    server = FileServer(str(tmp_path_factory.mktemp("guide-conf")))
    server.keystone_url = keystone.url
    yield server.start()
    server.stop()


@pytest.fixture(scope="module")
def admin(guide_server, keystone):
    """The admin, with a real token (the file's keystone flavor validates it)."""
    return Client(guide_server.url, {"X-Auth-Token": keystone.token("admin")})


def test_the_file_starts_and_serves_with_keystone_auth(guide_server, admin):
    # flavor = keystone: no token, no entry (never a noauth admin by accident), and
    # identity headers alone are not a token
    assert requests.get(f"{guide_server.url}/v2/images", timeout=10).status_code == 401
    assert Client(guide_server.url, ADMIN).get("/v2/images").status_code == 401
    stores = admin.get("/v2/info/stores").json()["stores"]
    # Glance spells the default as the string "true"
    assert [(s["id"], s.get("default")) for s in stores] == [("fs", "true"), ("cheap", None)]


def test_uploads_land_in_the_named_directories(guide_server, admin):
    data = os.urandom(256 * 1024)
    image = admin.create_image()
    assert admin.upload(image["id"], data).status_code == 204
    assert open(os.path.join(guide_server.workdir, "images", image["id"]), "rb").read() == data
    second = admin.create_image()
    assert admin.upload(second["id"], data, headers={"X-Image-Meta-Store": "cheap"}).status_code == 204
    # the higher priority of the two repeated datadirs lines takes it
    assert os.path.exists(os.path.join(guide_server.workdir, "cheap-b", second["id"]))
    body = admin.get(f"/v2/images/{image['id']}/file").content
    assert hashlib.md5(body).hexdigest() == hashlib.md5(data).hexdigest()


def test_bracketed_import_methods_are_read_as_a_list(guide_server, admin):
    info = admin.get("/v2/info/import").json()
    assert info["import-methods"]["value"] == ["glance-direct", "web-download", "copy-image"]


def test_staging_uses_os_glance_staging_store(guide_server, admin):
    image = admin.create_image()
    response = admin.put(f"/v2/images/{image['id']}/stage", data=b"x" * 4096,
                         headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 204, response.text
    staged = os.listdir(os.path.join(guide_server.workdir, "os_glance_staging_store"))
    assert image["id"] in staged


def test_config_check_passes_the_file_with_notes_only(guide_server):
    result = subprocess.run([GLANCELAB, "config", "check", guide_server.config_path],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "note:" in result.stdout and "transport_url" in result.stdout
    assert "keystone_authtoken" not in result.stdout  # keystonemiddleware reads it
    assert "store cheap [file]" in result.stdout


def test_a_caller_with_no_project_cannot_create_an_image(guide_server, keystone):
    # keystone mode: an unscoped token has no project to own the image
    from keystoneauth1 import session
    from keystoneauth1.identity import v3
    unscoped = session.Session(auth=v3.Password(
        auth_url=keystone.env["OS_AUTH_URL"], username="demo", password="demo",
        user_domain_name="Default", unscoped=True)).get_token()
    headers = {"X-Auth-Token": unscoped, "Accept": "application/json"}
    response = requests.post(f"{guide_server.url}/v2/images", json={"name": "orphan"},
                             headers=headers, timeout=10)
    assert response.status_code == 403
    assert "project-scoped token" in response.json()["message"]


def test_a_policy_file_broken_while_running_keeps_the_last_good_rules(tmp_path):
    """An operator saves policy.yaml half-edited: requests go on under the rules that were
    in force (no 500s), the log says why, and `config check` names the broken file."""
    policy = tmp_path / "policy.yaml"
    policy.write_text('"add_image": "role:admin"\n')
    server = ApiServer(str(tmp_path), extra_conf=f"""
        [oslo_policy]
        policy_file = {policy}
        """)
    server.start()
    try:
        member = Client(server.url, {"X-Identity-Status": "Confirmed", "X-Project-Id": "p",
                                     "X-User-Id": "u", "X-Roles": "member,reader"})
        assert member.post("/v2/images", json={"name": "a"}).status_code == 403
        policy.write_text('"add_image": [unclosed\n')
        os.utime(policy, (os.stat(policy).st_atime, os.stat(policy).st_mtime + 5))
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:  # every worker reads it within a second
            assert member.post("/v2/images", json={"name": "a"}).status_code == 403
            assert member.get("/v2/images").status_code == 200
            time.sleep(0.1)
        with open(server.log_path) as log:
            assert "last good rules stay in force" in log.read()
        checked = subprocess.run([GLANCELAB, "config", "check", server.config_path],
                                 capture_output=True, text=True, cwd=tmp_path, timeout=60)
        assert checked.returncode == 1
        assert "policy_file cannot be used" in checked.stdout
        policy.write_text('"add_image": "role:member"\n')
        os.utime(policy, (os.stat(policy).st_atime, os.stat(policy).st_mtime + 10))
        # a changed file is looked for at most once a second in each worker
        deadline = time.monotonic() + 5
        while member.post("/v2/images", json={"name": "a"}).status_code != 201:
            assert time.monotonic() < deadline, "the fixed policy file never applied"
            time.sleep(0.2)
    finally:
        server.stop()
