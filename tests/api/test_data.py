import hashlib
import os
import subprocess
import time

import pytest

from harness import GLANCELAB, ApiServer
from helpers import ADMIN, Client

pytestmark = pytest.mark.keystone_mode


def test_upload_and_download_roundtrip(alice):
    payload = os.urandom(3 * 1024 * 1024 + 17)
    image = alice.create_image()
    assert alice.get(f"/v2/images/{image['id']}/file").status_code == 204
    response = alice.upload(image["id"], payload)
    assert response.status_code == 204, response.text
    shown = alice.get(f"/v2/images/{image['id']}").json()
    assert shown["status"] == "active"
    assert shown["size"] == len(payload)
    assert shown["checksum"] == hashlib.md5(payload).hexdigest()
    assert shown["os_hash_algo"] == "sha512"
    assert shown["os_hash_value"] == hashlib.sha512(payload).hexdigest()
    download = alice.get(f"/v2/images/{image['id']}/file")
    assert download.status_code == 200
    assert download.content == payload
    assert download.headers["Content-MD5"] == shown["checksum"]
    assert int(download.headers["Content-Length"]) == len(payload)
    assert download.headers["Content-Type"] == "application/octet-stream"


def test_chunked_upload_without_content_length(alice):
    parts = [os.urandom(100_000) for _ in range(5)]
    image = alice.create_image()
    response = alice.upload(image["id"], iter(parts))
    assert response.status_code == 204
    assert alice.get(f"/v2/images/{image['id']}/file").content == b"".join(parts)


def test_empty_upload_makes_an_active_zero_byte_image(alice):
    image = alice.create_image()
    assert alice.upload(image["id"], b"").status_code == 204
    shown = alice.get(f"/v2/images/{image['id']}").json()
    assert shown["status"] == "active" and shown["size"] == 0
    assert shown["checksum"] == hashlib.md5(b"").hexdigest()


def test_second_upload_conflicts(alice):
    image = alice.create_image()
    assert alice.upload(image["id"], b"one").status_code == 204
    response = alice.upload(image["id"], b"two")
    assert response.status_code == 409
    assert "queued" in response.json()["message"]
    assert alice.get(f"/v2/images/{image['id']}/file").content == b"one"


def test_upload_needs_octet_stream(alice):
    image = alice.create_image()
    response = alice.put(f"/v2/images/{image['id']}/file", data=b"x",
                         headers={"Content-Type": "text/plain"})
    assert response.status_code == 415


def test_upload_by_other_project_or_reader_is_refused(alice, bob, reader):
    image = alice.create_image(visibility="community")
    assert bob.upload(image["id"], b"x").status_code == 403
    assert reader.upload(image["id"], b"x").status_code == 403
    assert alice.get(f"/v2/images/{image['id']}").json()["status"] == "queued"


@pytest.mark.parametrize("header, status, expected", [
    ("bytes=0-9", 206, (0, 9)),
    ("bytes=10-19", 206, (10, 19)),
    ("bytes=90-", 206, (90, 99)),
    ("bytes=-5", 206, (95, 99)),
    ("bytes=95-500", 206, (95, 99)),
])
def test_range_downloads(alice, header, status, expected):
    payload = bytes(range(100))
    image = alice.create_image()
    alice.upload(image["id"], payload)
    response = alice.get(f"/v2/images/{image['id']}/file", headers={"Range": header})
    assert response.status_code == status
    first, last = expected
    assert response.content == payload[first:last + 1]
    assert response.headers["Content-Range"] == f"bytes {first}-{last}/100"
    assert int(response.headers["Content-Length"]) == last - first + 1


@pytest.mark.parametrize("header, status", [
    ("bytes=100-", 416), ("bytes=500-600", 416), ("bytes=-0", 416),
    ("bytes=a-b", 400), ("items=0-1", 400), ("bytes=0-1,5-6", 400), ("bytes=9-3", 400),
])
def test_bad_ranges(alice, header, status):
    image = alice.create_image()
    alice.upload(image["id"], bytes(100))
    response = alice.get(f"/v2/images/{image['id']}/file", headers={"Range": header})
    assert response.status_code == status
    assert response.json()["code"].startswith(str(status))
    if status == 416:
        assert response.headers["Content-Range"] == "bytes */100"


def test_delete_removes_the_data_file(alice, api):
    image = alice.create_image()
    alice.upload(image["id"], b"bytes")
    path = os.path.join(api.datadir, image["id"])
    assert os.path.exists(path)
    assert alice.delete(f"/v2/images/{image['id']}").status_code == 204
    assert not os.path.exists(path)


def _temp_files(datadir):
    return [name for name in os.listdir(datadir) if name.startswith(".tmp-")]


def _wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_client_disconnect_mid_upload_requeues_and_leaves_nothing(alice, api):
    image = alice.create_image()
    sock = alice.start_raw_upload(image["id"], 50_000_000, os.urandom(2_000_000))
    assert _wait_for(lambda: alice.get(f"/v2/images/{image['id']}").json()["status"] == "saving")
    sock.close()
    assert _wait_for(lambda: alice.get(f"/v2/images/{image['id']}").json()["status"] == "queued")
    assert _wait_for(lambda: not any(image["id"] in n for n in os.listdir(api.datadir)))
    # ...and the image takes a complete upload afterwards.
    assert alice.upload(image["id"], b"complete").status_code == 204
    assert alice.get(f"/v2/images/{image['id']}/file").content == b"complete"


def test_delete_during_upload_keeps_no_data(alice, api):
    image = alice.create_image()
    sock = alice.start_raw_upload(image["id"], 3_000_000, os.urandom(1_000_000))
    assert _wait_for(lambda: alice.get(f"/v2/images/{image['id']}").json()["status"] == "saving")
    assert alice.delete(f"/v2/images/{image['id']}").status_code == 204
    sock.sendall(os.urandom(2_000_000))
    reply = sock.recv(4096).decode()
    sock.close()
    assert reply.startswith("HTTP/1.1 410")
    assert _wait_for(lambda: not any(image["id"] in n for n in os.listdir(api.datadir)))


@pytest.fixture
def crash_server(tmp_path):
    server = ApiServer(str(tmp_path / "crash")).start()
    yield server
    server.stop()


def test_killed_worker_mid_upload_is_recovered(crash_server):
    client = Client(crash_server.url, ADMIN)
    image = client.create_image()
    sock = client.start_raw_upload(image["id"], 50_000_000, os.urandom(1_000_000))
    assert _wait_for(lambda: client.get(f"/v2/images/{image['id']}").json()["status"] == "saving")
    assert _wait_for(lambda: _temp_files(crash_server.datadir))
    for pid in crash_server.worker_pids():
        os.kill(pid, 9)
    sock.close()
    assert _wait_for(lambda: _get_status(client, image["id"]) == "queued")
    assert _temp_files(crash_server.datadir) == []


def _get_status(client, image_id):
    try:
        return client.get(f"/v2/images/{image_id}").json()["status"]
    except Exception:  # noqa: BLE001 - workers restarting
        return None


def test_server_crash_mid_upload_is_recovered_on_restart(crash_server):
    client = Client(crash_server.url, ADMIN)
    image = client.create_image()
    done = client.create_image()
    client.upload(done["id"], b"kept")
    sock = client.start_raw_upload(image["id"], 50_000_000, os.urandom(1_000_000))
    assert _wait_for(lambda: client.get(f"/v2/images/{image['id']}").json()["status"] == "saving")
    assert _wait_for(lambda: _temp_files(crash_server.datadir))
    crash_server.stop(9)  # the whole process group, no cleanup at all
    sock.close()
    assert _temp_files(crash_server.datadir)
    crash_server.start()
    assert client.get(f"/v2/images/{image['id']}").json()["status"] == "queued"
    assert _temp_files(crash_server.datadir) == []
    assert client.get(f"/v2/images/{done['id']}/file").content == b"kept"
    assert client.upload(image["id"], b"again").status_code == 204


def test_orphan_files_are_reported_at_start_and_deleted_only_when_asked(crash_server):
    orphan = os.path.join(crash_server.datadir, "0b5a1d9e-58d8-4c1c-9b59-7d0f2b1f6a11")
    with open(orphan, "wb") as handle:
        handle.write(b"nobody points here")
    old = time.time() - 3600
    os.utime(orphan, (old, old))
    crash_server.stop()
    crash_server.start()
    assert os.path.exists(orphan)
    assert "belong to no image" in crash_server.log()
    listed = glancelab(crash_server, "stores", "orphans")
    assert listed.returncode == 0 and orphan in listed.stdout, listed.stderr
    assert os.path.exists(orphan)
    deleted = glancelab(crash_server, "stores", "orphans", "--delete")
    assert deleted.returncode == 0 and f"deleted file {orphan}" in deleted.stdout
    assert not os.path.exists(orphan)


def test_an_empty_database_pointed_at_a_full_store_deletes_nothing(tmp_path):
    first = ApiServer(str(tmp_path / "first")).start()
    client = Client(first.url, ADMIN)
    kept = []
    for _ in range(5):
        image = client.create_image()
        assert client.upload(image["id"], os.urandom(1000)).status_code == 204
        kept.append(os.path.join(first.datadir, image["id"]))
    first.stop()
    old = time.time() - 3600
    for path in kept:
        os.utime(path, (old, old))
    # An operator's typo: a new, empty database, the same image directory.
    second = ApiServer(str(tmp_path / "second"), extra_conf="")
    second.datadir = first.datadir
    second.start()
    try:
        assert all(os.path.exists(path) for path in kept)
        assert Client(second.url, ADMIN).get("/v2/images").json()["images"] == []
    finally:
        second.stop()
    assert all(os.path.exists(path) for path in kept)


def glancelab(server, *args):
    return subprocess.run([GLANCELAB, "--config", server.config_path, *args],
                          capture_output=True, text=True, cwd=server.workdir, timeout=60)
