"""Interoperable import: stage + glance-direct, web-download, copy-image, tasks, recovery."""

import hashlib
import json
import os
import signal
import subprocess
import time

import pytest
import requests

from harness import ApiServer, StaticHttpServer
from helpers import ADMIN, Client, as_member, identity, wait_for_task

pytestmark = pytest.mark.keystone_mode

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    root = tmp_path_factory.mktemp("importweb")
    (root / "disk.raw").write_bytes(os.urandom(3 * MiB + 11))
    (root / "big.raw").write_bytes(os.urandom(8 * MiB))
    server = StaticHttpServer(str(root))
    server.root = root
    yield server
    server.stop()


@pytest.fixture(scope="module")
def forbidden_web(tmp_path_factory):
    """A server on a port the import filter forbids: it must never be asked anything."""
    root = tmp_path_factory.mktemp("forbiddenweb")
    (root / "disk.raw").write_bytes(b"nope" * 1000)
    server = StaticHttpServer(str(root))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny")
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(path)],
                           capture_output=True, text=True)
    assert mount.returncode == 0, f"cannot mount a 1 MiB tmpfs: {mount.stderr}"
    yield path
    subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.fixture(scope="module")
def server(tmp_path_factory, forbidden_web, tiny_dir):
    work = tmp_path_factory.mktemp("importapi")
    api = ApiServer(str(work), extra_conf=f"""
        [DEFAULT]
        enabled_backends = fast:file, cheap:file, tiny:file
        show_multiple_locations = true
        [glance_store]
        default_backend = fast
        [fast]
        filesystem_store_datadir = {work}/fast
        [cheap]
        filesystem_store_datadir = {work}/cheap
        [tiny]
        filesystem_store_datadir = {tiny_dir}
        [os_glance_staging_store]
        filesystem_store_datadir = {work}/staging
        [import_filtering_opts]
        allowed_hosts = 127.0.0.1
        allowed_ports =
        disallowed_ports = {forbidden_web.port}
        """)
    api.base_store_conf = False
    api.staging = work / "staging"
    api.stores = {"fast": work / "fast", "cheap": work / "cheap", "tiny": tiny_dir}
    api.start()
    yield api
    api.stop()


@pytest.fixture
def admin(server):
    return Client(server.url, ADMIN)


@pytest.fixture
def alice(server):
    return Client(server.url, identity("project-alice"))


def stage(client, image_id, payload):
    return client.put(f"/v2/images/{image_id}/stage", data=payload,
                      headers={"Content-Type": "application/octet-stream"})


def start(client, image_id, method, **body):
    return client.post(f"/v2/images/{image_id}/import", json={"method": method, **body})


def files_in(path):
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def test_import_info_and_create_header(admin):
    info = admin.get("/v2/info/import").json()
    assert info["import-methods"]["value"] == ["glance-direct", "web-download", "copy-image"]
    response = admin.post("/v2/images", json={"name": "x"})
    assert response.headers["OpenStack-image-import-methods"] == \
        "glance-direct,web-download,copy-image"


def test_glance_direct_to_two_stores(alice, server):
    payload = os.urandom(2 * MiB + 3)
    image = alice.create_image()
    assert stage(alice, image["id"], payload).status_code == 204
    staged = alice.get(f"/v2/images/{image['id']}").json()
    assert staged["status"] == "uploading"
    assert image["id"] in files_in(server.staging)
    response = start(alice, image["id"], {"name": "glance-direct"}, stores=["fast", "cheap"])
    assert response.status_code == 202, response.text
    task = wait_for_task(alice, image["id"])
    assert task["status"] == "success", task["message"]
    assert task["type"] == "api_image_import" and task["image_id"] == image["id"]
    shown = alice.get(f"/v2/images/{image['id']}").json()
    assert shown["status"] == "active" and shown["size"] == len(payload)
    assert shown["checksum"] == hashlib.md5(payload).hexdigest()
    assert shown["os_hash_value"] == hashlib.sha512(payload).hexdigest()
    assert shown["virtual_size"] == len(payload)
    assert sorted(shown["stores"].split(",")) == ["cheap", "fast"]
    assert shown["os_glance_importing_to_stores"] == "" and shown["os_glance_failed_import"] == ""
    assert "os_glance_import_task" not in shown
    assert image["id"] not in files_in(server.staging)  # staging is cleaned up
    for store in ("fast", "cheap"):
        assert (server.stores[store] / image["id"]).read_bytes() == payload
    assert alice.get(f"/v2/images/{image['id']}/file").content == payload
    assert task["status"] == "success"


def test_web_download_with_all_stores(admin, web):
    payload = (web.root / "disk.raw").read_bytes()
    image = admin.create_image()
    response = start(admin, image["id"], {"name": "web-download", "uri": f"{web.url}/disk.raw"},
                     stores=["fast", "cheap"])
    assert response.status_code == 202, response.text
    assert wait_for_task(admin, image["id"])["status"] == "success"
    shown = admin.get(f"/v2/images/{image['id']}").json()
    assert shown["status"] == "active" and shown["os_hash_value"] == hashlib.sha512(payload).hexdigest()
    assert admin.get(f"/v2/images/{image['id']}/file").content == payload


def test_web_download_follows_an_allowed_redirect(admin, web):
    image = admin.create_image()
    target = f"{web.url}/disk.raw"
    start(admin, image["id"], {"name": "web-download", "uri": f"{web.url}/redirect?to={target}"})
    assert wait_for_task(admin, image["id"])["status"] == "success"


def test_web_download_refuses_forbidden_urls_before_connecting(admin, forbidden_web, web):
    image = admin.create_image()
    response = start(admin, image["id"], {"name": "web-download",
                                          "uri": f"{forbidden_web.url}/disk.raw"})
    assert response.status_code == 400
    assert "does not pass filtering" in response.json()["message"]
    for uri in ("ftp://127.0.0.1/disk.raw", "file:///etc/passwd"):
        assert start(admin, image["id"], {"name": "web-download", "uri": uri}).status_code == 400
    # A permitted URL that redirects to a forbidden one fails in the task, not silently.
    response = start(admin, image["id"], {"name": "web-download",
                                          "uri": f"{web.url}/redirect?to={forbidden_web.url}/disk.raw"})
    assert response.status_code == 202
    task = wait_for_task(admin, image["id"])
    assert task["status"] == "failure" and "not allowed" in task["message"]
    shown = admin.get(f"/v2/images/{image['id']}").json()
    assert shown["status"] == "queued" and shown["os_glance_failed_import"] == "fast"
    assert forbidden_web.hits == []


def test_web_download_of_a_missing_file_fails_cleanly(admin, web, server):
    image = admin.create_image()
    start(admin, image["id"], {"name": "web-download", "uri": f"{web.url}/missing.raw"})
    task = wait_for_task(admin, image["id"])
    assert task["status"] == "failure" and "404" in task["message"]
    assert admin.get(f"/v2/images/{image['id']}").json()["status"] == "queued"
    assert image["id"] not in files_in(server.staging)


def test_copy_image_adds_a_store(admin, alice, server):
    payload = os.urandom(MiB)
    image = alice.create_image()
    assert alice.upload(image["id"], payload).status_code == 204
    assert start(alice, image["id"], {"name": "copy-image"}, stores=["cheap"]).status_code == 403
    assert start(admin, image["id"], {"name": "copy-image"}, stores=["fast"]).status_code == 409
    response = start(admin, image["id"], {"name": "copy-image"}, stores=["cheap"])
    assert response.status_code == 202, response.text
    assert wait_for_task(admin, image["id"])["status"] == "success"
    shown = admin.get(f"/v2/images/{image['id']}").json()
    assert shown["status"] == "active" and sorted(shown["stores"].split(",")) == ["cheap", "fast"]
    assert (server.stores["cheap"] / image["id"]).read_bytes() == payload


def test_all_stores_must_succeed_reverts_every_store(admin, server):
    payload = os.urandom(2 * MiB)  # does not fit the 1 MiB "tiny" store
    image = admin.create_image()
    assert stage(admin, image["id"], payload).status_code == 204
    start(admin, image["id"], {"name": "glance-direct"}, stores=["fast", "tiny"])
    task = wait_for_task(admin, image["id"])
    assert task["status"] == "failure" and "tiny" in task["message"]
    shown = admin.get(f"/v2/images/{image['id']}").json()
    assert shown["status"] == "queued" and "tiny" in shown["os_glance_failed_import"]
    assert image["id"] not in files_in(server.stores["fast"])  # the store that worked is undone
    assert files_in(server.stores["tiny"]) == []
    assert image["id"] not in files_in(server.staging)


def test_partial_success_when_not_all_stores_must_succeed(admin, server):
    payload = os.urandom(2 * MiB)
    image = admin.create_image()
    assert stage(admin, image["id"], payload).status_code == 204
    start(admin, image["id"], {"name": "glance-direct"}, stores=["fast", "tiny"],
          all_stores_must_succeed=False)
    task = wait_for_task(admin, image["id"])
    assert task["status"] == "success" and "tiny" in task["message"]
    shown = admin.get(f"/v2/images/{image['id']}").json()
    assert shown["status"] == "active" and shown["stores"] == "fast"
    assert shown["os_glance_failed_import"] == "tiny"


@pytest.mark.parametrize("body, status, words", [
    ({"method": {"name": "glance-direct"}}, 409, "stage data first"),
    ({"method": {"name": "teleport"}}, 400, "not enabled"),
    ({"method": {"name": "web-download"}}, 400, "needs \"uri\""),
    ({"method": {"name": "web-download", "uri": "URL"}, "stores": ["nowhere"]}, 400,
     "nowhere not found"),
    ({"method": "glance-direct"}, 400, "JSON object"),
    ({"method": {"name": "web-download", "uri": "URL"}, "all_stores": "yes"}, 400, "true or false"),
])
def test_bad_import_requests(admin, web, body, status, words):
    image = admin.create_image()
    if isinstance(body["method"], dict) and body["method"].get("uri") == "URL":
        body["method"]["uri"] = f"{web.url}/disk.raw"
    response = admin.post(f"/v2/images/{image['id']}/import", json=body)
    assert response.status_code == status, response.text
    assert words in response.json()["message"]
    assert admin.get(f"/v2/images/{image['id']}").json()["status"] == "queued"
    assert admin.get(f"/v2/images/{image['id']}/tasks").json()["tasks"] == []


def test_unsafe_data_is_refused_at_stage(admin, server, tmp_path):
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(tmp_path / "base.qcow2"), "1M"],
                   check=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(tmp_path / "base.qcow2"),
                    "-F", "qcow2", str(tmp_path / "top.qcow2")], check=True)
    image = admin.create_image(disk_format="qcow2")
    response = stage(admin, image["id"], (tmp_path / "top.qcow2").read_bytes())
    assert response.status_code == 400 and "backing file" in response.json()["message"]
    assert admin.get(f"/v2/images/{image['id']}").json()["status"] == "queued"
    assert not [n for n in files_in(server.staging) if image["id"] in n]


def test_web_download_is_inspected_too(admin, server, tmp_path):
    root = tmp_path / "web"
    root.mkdir()
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(root / "d.qcow2"), "1M"],
                   check=True)
    web = StaticHttpServer(str(root))
    try:
        image = admin.create_image(disk_format="raw")
        start(admin, image["id"], {"name": "web-download", "uri": f"{web.url}/d.qcow2"})
        task = wait_for_task(admin, image["id"])
    finally:
        web.stop()
    assert task["status"] == "failure" and "disk_format is raw" in task["message"]
    assert admin.get(f"/v2/images/{image['id']}").json()["status"] == "queued"


def test_deleting_a_staged_image_removes_its_staged_data(admin, server):
    image = admin.create_image()
    assert stage(admin, image["id"], os.urandom(1000)).status_code == 204
    assert image["id"] in files_in(server.staging)
    assert admin.delete(f"/v2/images/{image['id']}").status_code == 204
    assert image["id"] not in files_in(server.staging)


def test_tasks_api_is_for_admins_image_tasks_for_who_sees_the_image(admin, alice, server):
    bob = Client(server.url, identity("project-bob"))
    for _ in range(2):  # two tasks at least, for a second page
        image = alice.create_image()
        stage(alice, image["id"], b"x" * 100)
        start(alice, image["id"], {"name": "glance-direct"})
        task = wait_for_task(alice, image["id"])
    # Glance's tasks_api_access: /v2/tasks is admin-only; the owner reads its image's tasks.
    assert alice.get(f"/v2/tasks/{task['id']}").status_code == 403
    assert alice.get("/v2/tasks").status_code == 403
    assert bob.get(f"/v2/images/{image['id']}/tasks").status_code == 404
    assert [t["id"] for t in alice.get(f"/v2/images/{image['id']}/tasks").json()["tasks"]] \
        == [task["id"]]
    assert admin.get(f"/v2/tasks/{task['id']}").status_code == 200
    assert admin.get("/v2/tasks", params={"status": "bogus"}).status_code == 400
    page = admin.get("/v2/tasks", params={"limit": 1, "status": "success"}).json()
    assert len(page["tasks"]) == 1 and "next" in page
    second = admin.get(page["next"]).json()  # the next link keeps the limit and the filter
    assert len(second["tasks"]) == 1 and second["tasks"][0]["status"] == "success"
    assert second["tasks"][0]["id"] != page["tasks"][0]["id"]
    assert admin.get("/v2/schemas/task").json()["name"] == "task"


def test_import_interrupted_by_a_dying_worker_fails_cleanly(admin, web, server):
    """A web-download stalls mid-body; the worker running it is killed."""
    image = admin.create_image()
    response = start(admin, image["id"], {"name": "web-download", "uri": f"{web.url}/stall/big.raw"})
    assert response.status_code == 202
    deadline = time.monotonic() + 30
    while admin.get(f"/v2/images/{image['id']}/tasks").json()["tasks"][0]["status"] != "processing":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(0.5)  # half of the data is in the staging store's temp file by now
    assert [n for n in files_in(server.staging) if n.startswith(".tmp-")]
    for pid in server.worker_pids():
        os.kill(pid, signal.SIGKILL)
    task = wait_for_task(admin, image["id"])
    assert task["status"] == "failure" and "interrupted" in task["message"]
    shown = admin.get(f"/v2/images/{image['id']}").json()
    assert shown["status"] == "queued" and "os_glance_import_task" not in shown
    assert not [n for n in files_in(server.staging) if image["id"] in n]
    # The image can be imported again.
    start(admin, image["id"], {"name": "web-download", "uri": f"{web.url}/disk.raw"})
    assert wait_for_task(admin, image["id"])["status"] == "success"


def test_glance_direct_on_a_single_store_server(api):
    """The default server (single store; SQLite and PostgreSQL) imports too."""
    client = as_member(api, "project-carol")
    payload = os.urandom(MiB + 1)
    image = client.create_image()
    assert stage(client, image["id"], payload).status_code == 204
    assert start(client, image["id"], {"name": "glance-direct"}).status_code == 202
    assert wait_for_task(client, image["id"])["status"] == "success"
    assert client.get(f"/v2/images/{image['id']}/file").content == payload


def test_a_whole_server_crash_fails_the_import_at_next_start(admin, web, server):
    image = admin.create_image()
    start(admin, image["id"], {"name": "web-download", "uri": f"{web.url}/stall/big.raw"})
    deadline = time.monotonic() + 30
    while admin.get(f"/v2/images/{image['id']}/tasks").json()["tasks"][0]["status"] != "processing":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    server.stop(signal.SIGKILL)  # master and workers at once: no child_exit runs
    assert admin_status(server, image["id"]) is None
    server.start()
    task = wait_for_task(Client(server.url, ADMIN), image["id"])
    assert task["status"] == "failure" and "interrupted" in task["message"]
    assert Client(server.url, ADMIN).get(f"/v2/images/{image['id']}").json()["status"] == "queued"
    assert not [n for n in files_in(server.staging) if image["id"] in n]


def admin_status(server, image_id):
    try:
        return Client(server.url, ADMIN).get(f"/v2/images/{image_id}").status_code
    except requests.ConnectionError:
        return None


def test_tasks_of_a_public_image_stay_with_its_project_and_hide_secrets(admin, alice, web,
                                                                        server):
    """Another project sees the public image, not its tasks; the owner sees the URI
    without the signature a signed URL carries."""
    image = alice.create_image()
    host = web.url.split("//", 1)[1]
    uri = f"http://{host}/disk.raw?X-Amz-Signature=topsecret&Expires=9"
    assert start(alice, image["id"], {"name": "web-download", "uri": uri}).status_code == 202
    task = wait_for_task(alice, image["id"])
    assert task["status"] == "success", task["message"]
    assert admin.patch(f"/v2/images/{image['id']}", [
        {"op": "replace", "path": "/visibility", "value": "public"}]).status_code == 200
    bob = Client(server.url, identity("project-bob"))
    assert bob.get(f"/v2/images/{image['id']}").status_code == 200
    assert bob.get(f"/v2/images/{image['id']}/tasks").json()["tasks"] == []
    shown = alice.get(f"/v2/images/{image['id']}/tasks").json()["tasks"][0]
    text = json.dumps(shown)
    assert "topsecret" not in text
    assert shown["input"]["method"]["uri"] == f"http://{host}/disk.raw?***"
    assert "importer_roles" not in shown["input"]


def test_a_member_sees_the_stores_name_an_admin_its_details(admin, alice, server, tiny_dir):
    payload = os.urandom(2 * MiB)  # does not fit the 1 MiB "tiny" store
    for client, detailed in ((alice, False), (admin, True)):
        image = client.create_image()
        response = client.upload(image["id"], payload, headers={"X-Image-Meta-Store": "tiny"})
        assert response.status_code == 413, response.text
        message = response.json()["message"]
        assert "Store tiny has no room for the data" in message
        assert ("filesystem_store_datadirs" in message) is detailed  # the driver's own words
        assert detailed or str(tiny_dir) not in message
        # the import task of a member says the same, its log line the rest
        assert stage(client, image["id"], payload).status_code == 204
        start(client, image["id"], {"name": "glance-direct"}, stores=["tiny"])
        task = wait_for_task(client, image["id"])
        assert task["status"] == "failure" and "Store tiny has no room" in task["message"]
        assert str(tiny_dir) not in task["message"]


def test_prefer_reads_the_preferred_stores_copy_first(admin, alice, server):
    payload = os.urandom(MiB)
    image = alice.create_image()
    assert alice.upload(image["id"], payload).status_code == 204  # to fast
    assert start(admin, image["id"], {"name": "copy-image"}, stores=["cheap"]).status_code == 202
    assert wait_for_task(admin, image["id"])["status"] == "success"
    # Make the copies differ on disk, so the bytes served say which store was read.
    (server.stores["cheap"] / image["id"]).write_bytes(b"C" * MiB)
    assert alice.get(f"/v2/images/{image['id']}/file").content == payload
    assert alice.get(f"/v2/images/{image['id']}/file?prefer=cheap").content == b"C" * MiB
    assert alice.get(f"/v2/images/{image['id']}/file?prefer=,fast").content == payload
    unknown = alice.get(f"/v2/images/{image['id']}/file?prefer=nowhere")
    assert unknown.status_code == 400 and "nowhere" in unknown.json()["message"]
    (server.stores["cheap"] / image["id"]).write_bytes(payload)


def test_web_download_sends_url_credentials_as_basic_auth(admin, web):
    payload = (web.root / "disk.raw").read_bytes()
    image = admin.create_image()
    host = web.url.split("//", 1)[1]
    uri = f"http://glance:s3cret@{host}/auth/disk.raw"
    assert start(admin, image["id"], {"name": "web-download", "uri": uri}).status_code == 202
    task = wait_for_task(admin, image["id"])
    assert task["status"] == "success", task["message"]
    assert admin.get(f"/v2/images/{image['id']}/file").content == payload
    assert "s3cret" not in json.dumps(admin.get(f"/v2/images/{image['id']}/tasks").json())


@pytest.fixture(scope="module")
def default_filter_api(tmp_path_factory):
    """Glance's default import filter (empty host lists): glancelab still refuses the host's
    own and internal addresses. One worker with two import threads, for fairness."""
    work = tmp_path_factory.mktemp("ssrfapi")
    api = ApiServer(str(work), workers=1, extra_conf="""
        [import_filtering_opts]
        allowed_ports =
        [glancelab]
        import_workers = 2
        web_download_min_rate = 1
        """)
    api.start()
    yield api
    api.stop()


@pytest.mark.parametrize("host", ["127.0.0.1", "0", "0.0.0.0", "127.0.0.2", "[::1]",
                                  "localhost", "169.254.169.254", "10.0.0.1", "127.1",
                                  "2130706433", "[::ffff:127.0.0.1]"])
def test_web_download_cannot_be_aimed_at_its_host_by_default(default_filter_api, web, host):
    client = Client(default_filter_api.url, identity("project-ssrf"))
    image = client.create_image()
    uri = f"http://{host}:{web.port}/disk.raw"
    response = start(client, image["id"], {"name": "web-download", "uri": uri})
    assert response.status_code == 400, response.text
    assert "does not pass filtering" in response.json()["message"]


def test_a_redirect_to_the_host_is_refused_in_the_task(default_filter_api, web):
    """Glance's empty lists let a public source redirect anywhere; here the hop is checked
    and refused before any connection (the redirecting source is allowed by name)."""
    client = Client(default_filter_api.url, identity("project-ssrf"))
    image = client.create_image()
    response = start(client, image["id"], {"name": "web-download",
                                           "uri": f"http://0.0.0.0:{web.port}/disk.raw"})
    assert response.status_code == 400


def test_one_projects_slow_sources_do_not_hold_anothers_import(default_filter_api, web,
                                                               tmp_path):
    """Two web-downloads of project A trickle (1 byte each 0.2 s); project B's glance-direct
    import still runs at once on the same worker's import threads."""
    server = ApiServer(str(tmp_path), workers=1, extra_conf="""
        [import_filtering_opts]
        allowed_hosts = 127.0.0.1
        allowed_ports =
        [glancelab]
        import_workers = 2
        web_download_min_rate = 1
        """)
    server.start()
    try:
        slow = Client(server.url, identity("project-slow"))
        trickling = []
        for _ in range(2):
            image = slow.create_image()
            assert start(slow, image["id"], {"name": "web-download",
                                             "uri": f"{web.url}/trickle/disk.raw"}
                         ).status_code == 202
            trickling.append(image["id"])
        other = Client(server.url, identity("project-other"))
        image = other.create_image()
        assert stage(other, image["id"], os.urandom(MiB)).status_code == 204
        assert start(other, image["id"], {"name": "glance-direct"}).status_code == 202
        task = wait_for_task(other, image["id"], timeout=30)
        assert task["status"] == "success", task["message"]
        states = [slow.get(f"/v2/images/{i}/tasks").json()["tasks"][0]["status"]
                  for i in trickling]
        assert "processing" in states and "pending" in states, states
    finally:
        server.stop()
