"""The upload/download/Range/delete suite on every backend type, through one API."""

import hashlib
import os

import pytest

from helpers import ADMIN, Client, identity, wait_for_task

MiB = 1024 * 1024
STORES = ["fast", "cheap", "obj", "s3", "ceph"]


@pytest.fixture
def admin(multistore_api):
    return Client(multistore_api.url, ADMIN)


@pytest.fixture
def member(multistore_api):
    return Client(multistore_api.url, identity("project-alice"))


def upload(client, store, payload, chunked=False):
    image = client.create_image()
    data = iter([payload[i:i + 700_000] for i in range(0, len(payload), 700_000)]) if chunked \
        else payload
    response = client.upload(image["id"], data, headers={"X-Image-Meta-Store": store})
    assert response.status_code == 204, response.text
    return client.get(f"/v2/images/{image['id']}").json()


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("size", [0, 1000, 7 * 1024 * 1024 + 13])
def test_roundtrip_on_every_store(admin, store, size):
    payload = os.urandom(size)
    image = upload(admin, store, payload)
    assert image["stores"] == store
    assert image["status"] == "active" and image["size"] == size
    assert image["checksum"] == hashlib.md5(payload).hexdigest()
    assert image["os_hash_value"] == hashlib.sha512(payload).hexdigest()
    response = admin.get(f"/v2/images/{image['id']}/file")
    assert response.status_code == 200 and response.content == payload
    assert response.headers["Content-MD5"] == image["checksum"]


@pytest.mark.parametrize("store", STORES)
def test_chunked_upload_of_unknown_size_on_every_store(admin, store):
    payload = os.urandom(6 * 1024 * 1024 + 5)
    image = upload(admin, store, payload, chunked=True)
    assert image["size"] == len(payload)
    assert admin.get(f"/v2/images/{image['id']}/file").content == payload


@pytest.mark.parametrize("store", STORES)
def test_ranges_on_every_store(admin, store):
    payload = os.urandom(3 * 1024 * 1024)
    image = upload(admin, store, payload)
    path = f"/v2/images/{image['id']}/file"
    for header, (first, last) in [("bytes=0-99", (0, 99)), ("bytes=1048570-2097160", (1048570, 2097160)),
                                  ("bytes=-10", (len(payload) - 10, len(payload) - 1))]:
        response = admin.get(path, headers={"Range": header})
        assert response.status_code == 206
        assert response.content == payload[first:last + 1]
        assert response.headers["Content-Range"] == f"bytes {first}-{last}/{len(payload)}"


def test_default_store_is_used_without_header(admin, multistore_api):
    image = admin.create_image()
    admin.upload(image["id"], b"default")
    assert admin.get(f"/v2/images/{image['id']}").json()["stores"] == "fast"
    assert os.path.exists(os.path.join(multistore_api.workdir, "fast", image["id"]))


def test_datadirs_take_highest_priority_first(admin, multistore_api):
    image = upload(admin, "cheap", b"prio")
    assert os.path.exists(os.path.join(multistore_api.workdir, "cheap-b", image["id"]))
    assert not os.path.exists(os.path.join(multistore_api.workdir, "cheap-a", image["id"]))


def test_file_permissions_follow_config(admin, multistore_api):
    image = upload(admin, "fast", b"perm")
    mode = os.stat(os.path.join(multistore_api.workdir, "fast", image["id"])).st_mode & 0o777
    assert mode == 0o640


def test_unknown_store_is_400(admin):
    image = admin.create_image()
    response = admin.upload(image["id"], b"x", headers={"X-Image-Meta-Store": "nowhere"})
    assert response.status_code == 400
    assert "nowhere" in response.json()["message"]
    assert admin.get(f"/v2/images/{image['id']}").json()["status"] == "queued"


def test_read_only_store_refuses_uploads(admin):
    image = admin.create_image()
    response = admin.upload(image["id"], b"x", headers={"X-Image-Meta-Store": "web"})
    assert response.status_code == 400
    assert "read-only" in response.json()["message"]


def test_info_stores(admin, member, multistore_api):
    stores = member.get("/v2/info/stores").json()["stores"]
    assert [s["id"] for s in stores] == ["fast", "cheap", "obj", "s3", "s3flaky", "swiftflaky", "ceph",
                                      "web"]
    assert stores[0] == {"id": "fast", "description": "Fast disk", "default": "true"}
    assert "type" not in stores[1]
    assert member.get("/v2/info/stores/detail").status_code == 403
    detail = {s["id"]: s for s in admin.get("/v2/info/stores/detail").json()["stores"]}
    assert detail["fast"]["type"] == "file"
    assert detail["fast"]["properties"]["data_dir"].endswith("/fast")
    assert detail["cheap"]["weight"] == 50
    assert detail["obj"]["type"] == "swift" and detail["s3"]["type"] == "s3"
    assert detail["web"]["type"] == "http"
    assert detail["ceph"]["type"] == "rbd"
    assert detail["ceph"]["properties"] == {"pool": "images", "chunk_size": 1024 * 1024,
                                            "thin_provisioning": False}


def test_store_ids_header_on_create(admin):
    response = admin.post("/v2/images", json={"name": "h"})
    assert response.headers["OpenStack-image-store-ids"] == \
        "fast,cheap,obj,s3,s3flaky,swiftflaky,ceph,web"


@pytest.mark.parametrize("store", STORES)
def test_delete_removes_data_from_the_backend(admin, store, multistore_api, s3_client, swift_client,
                                              ceph_pool):
    import rbd
    image = upload(admin, store, os.urandom(3 * 1024 * 1024))
    assert admin.delete(f"/v2/images/{image['id']}").status_code == 204
    if store == "ceph":
        assert image["id"] not in rbd.RBD().list(ceph_pool)
    elif store == "s3":
        listed = s3_client.list_objects_v2(Bucket="glance-images", Prefix=image["id"])
        assert listed.get("KeyCount", 0) == 0
    elif store == "obj":
        _, objects = swift_client.get_container("glance", prefix=image["id"])
        assert objects == []
    else:
        for root, _, files in os.walk(multistore_api.workdir):
            assert image["id"] not in files


def test_swift_large_image_is_segmented_behind_one_manifest(admin, swift_client):
    image = upload(admin, "obj", os.urandom(3 * 1024 * 1024 + 1))
    headers, objects = swift_client.get_container("glance", prefix=image["id"])
    names = sorted(o["name"] for o in objects)
    # the manifest, then four segments named for this one write: <id>-<write>-<n>
    write = names[1].split("-")[-2]
    assert names == [image["id"]] + [f"{image['id']}-{write}-{n:05d}" for n in range(1, 5)]
    manifest = swift_client.head_object("glance", image["id"])
    assert manifest.get("x-static-large-object") == "True"


def test_s3_large_image_is_one_object(admin, s3_client):
    image = upload(admin, "s3", os.urandom(11 * 1024 * 1024))
    head = s3_client.head_object(Bucket="glance-images", Key=image["id"])
    assert head["ContentLength"] == 11 * 1024 * 1024
    assert "-" in head["ETag"]  # a multipart object's ETag ends in -<parts>


def test_admin_deletes_one_copy(admin, member, multistore_api):
    image = upload(admin, "fast", b"copy")
    only_copy = admin.delete(f"/v2/stores/fast/{image['id']}")
    assert only_copy.status_code == 403 and "only store" in only_copy.json()["message"]
    # Not visible to the member: 404, as Glance; visible but not allowed: 403.
    assert member.delete(f"/v2/stores/fast/{image['id']}").status_code == 404
    assert admin.patch(f"/v2/images/{image['id']}", [
        {"op": "replace", "path": "/visibility", "value": "public"}]).status_code == 200
    assert member.delete(f"/v2/stores/fast/{image['id']}").status_code == 403
    assert admin.delete(f"/v2/stores/nowhere/{image['id']}").status_code == 404
    assert admin.delete(f"/v2/stores/cheap/{image['id']}").status_code == 404


def test_deleting_from_a_store_never_deletes_a_registered_host_file(admin, multistore_api):
    """DELETE /v2/stores/{store}/{image}: the location goes, a file the store did not
    write stays."""
    host_files = os.path.join(multistore_api.workdir, "host-files")
    os.makedirs(host_files, exist_ok=True)
    host_file = os.path.join(host_files, "user-disk.img")
    with open(host_file, "wb") as handle:
        handle.write(b"a user's disk")
    image = admin.create_image()
    registered = admin.post(f"/v2/images/{image['id']}/locations",
                            json={"url": f"file://{host_file}", "metadata": {"store": "cheap"}})
    assert registered.status_code == 202, registered.text
    copied = admin.post(f"/v2/images/{image['id']}/import",
                        json={"method": {"name": "copy-image"}, "stores": ["fast"]})
    assert copied.status_code == 202, copied.text
    assert wait_for_task(admin, image["id"])["status"] == "success"
    assert admin.delete(f"/v2/stores/cheap/{image['id']}").status_code == 204
    assert open(host_file, "rb").read() == b"a user's disk"
    assert admin.get(f"/v2/images/{image['id']}/file").content == b"a user's disk"


@pytest.mark.parametrize("store, proxy_name", [("s3flaky", "s3_proxy"), ("swiftflaky", "swift_proxy")])
def test_backend_failing_mid_upload_is_503_and_leaves_nothing(
        admin, store, proxy_name, request, s3_client, swift_client, multistore_api):
    proxy = request.getfixturevalue(proxy_name)
    warm = upload(admin, store, b"warm-up")  # bucket/container exist, credentials work
    assert warm["status"] == "active"
    image = admin.create_image()
    proxy.fail_requests_over = 3 * 1024 * 1024
    try:
        response = admin.upload(image["id"], os.urandom(12 * 1024 * 1024),
                                headers={"X-Image-Meta-Store": store})
    except Exception as exc:
        raise AssertionError(multistore_api.log()) from exc
    finally:
        proxy.fail_requests_over = None
    assert response.status_code == 503, response.text + multistore_api.log()
    assert store in response.json()["message"]
    assert admin.get(f"/v2/images/{image['id']}").json()["status"] == "queued"
    if store == "s3flaky":
        listed = s3_client.list_objects_v2(Bucket="glance-images-flaky", Prefix=image["id"])
        assert listed.get("KeyCount", 0) == 0
        uploads = s3_client.list_multipart_uploads(Bucket="glance-images-flaky")
        assert [u for u in uploads.get("Uploads", []) if u["Key"] == image["id"]] == []
    else:
        _, objects = swift_client.get_container("glance-flaky", prefix=image["id"])
        assert objects == []


def _owed(store, image_id, s3_client, swift_client):
    """What a failed write of image_id left in a flaky store, seen directly (no proxy)."""
    if store == "s3flaky":
        uploads = s3_client.list_multipart_uploads(Bucket="glance-images-flaky")
        return [u["UploadId"] for u in uploads.get("Uploads", []) if u["Key"] == image_id]
    _, objects = swift_client.get_container("glance-flaky", prefix=f"{image_id}-")
    return [o["name"] for o in objects]


@pytest.mark.parametrize("store, proxy_name", [("s3flaky", "s3_proxy"), ("swiftflaky", "swift_proxy")])
def test_an_outage_mid_upload_owes_its_undo_until_the_store_is_back(
        admin, store, proxy_name, request, s3_client, swift_client, multistore_api):
    """The store goes away mid-upload and cannot take the abort (or the segments' delete):
    what it holds stays owed, and goes once the store writes again."""
    import time
    proxy = request.getfixturevalue(proxy_name)
    upload(admin, store, b"warm-up")
    image = admin.create_image()
    proxy.fail_requests_over, proxy.down_after_failure = 3 * 1024 * 1024, True
    try:
        response = admin.upload(image["id"], os.urandom(12 * 1024 * 1024),
                                headers={"X-Image-Meta-Store": store})
        assert response.status_code == 503, response.text + multistore_api.log()
        assert _owed(store, image["id"], s3_client, swift_client), \
            "the outage should have kept the store from undoing the write"
    finally:
        proxy.fail_requests_over, proxy.down_after_failure, proxy.down = None, False, False
    assert admin.get(f"/v2/images/{image['id']}").json()["status"] == "queued"
    deadline = time.monotonic() + 60
    while _owed(store, image["id"], s3_client, swift_client):
        assert time.monotonic() < deadline, multistore_api.log()
        upload(admin, store, b"the store is back")  # each good write may retry what is owed
        time.sleep(0.5)
    again = admin.upload(image["id"], b"uploaded after all", headers={"X-Image-Meta-Store": store})
    assert again.status_code == 204, again.text


def test_a_worker_killed_mid_multipart_upload_leaves_no_parts(admin, multistore_api, s3_client):
    """kill -9 mid-upload: the dead process never aborts; the master's recovery does."""
    import signal
    import time
    image = admin.create_image()
    with _partial_upload(multistore_api, image["id"], "s3", 32 * MiB, 12 * MiB):
        deadline = time.monotonic() + 30
        while not _parts_of(s3_client, image["id"]):  # the upload has parts in S3
            assert time.monotonic() < deadline, multistore_api.log()
            time.sleep(0.1)
        for pid in multistore_api.worker_pids():
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while _parts_of(s3_client, image["id"]):
            assert time.monotonic() < deadline, multistore_api.log()
            time.sleep(0.2)
    _wait_until_serving(multistore_api)
    assert admin.get(f"/v2/images/{image['id']}").json()["status"] == "queued"


def _partial_upload(server, image_id: str, store: str, declared: int, sent: int):
    """A raw connection that announces `declared` bytes of image data, sends `sent` of
    them, and stays open (a context manager: leaving it is the client going away)."""
    return Client(server.url, ADMIN).start_raw_upload(image_id, declared, os.urandom(sent),
                                                      {"X-Image-Meta-Store": store})


def _parts_of(s3_client, image_id):
    uploads = s3_client.list_multipart_uploads(Bucket="glance-images").get("Uploads", [])
    return [u for u in uploads if u["Key"] == image_id]


def _wait_until_serving(server):
    import time
    import requests
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(f"{server.url}/healthcheck", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.1)


def _unreachable_section(kind: str, tmp_path, request) -> str:
    """A [gone] backend of this kind whose server does not answer."""
    from harness import free_port
    dead = free_port()
    if kind == "s3":
        return (f"s3_store_host = http://127.0.0.1:{dead}\ns3_store_access_key = a\n"
                "s3_store_secret_key = b\ns3_store_bucket = c\n")
    # rbd: the real cluster's ceph.conf with monitors where nothing listens
    conf = open(request.getfixturevalue("ceph_service").env["CEPH_CONF"]).read()
    mon_line = next(line for line in conf.splitlines() if line.startswith("mon host"))
    (tmp_path / "ceph.conf").write_text(conf.replace(mon_line, f"mon host = 127.0.0.1:{dead}"))
    return (f"rbd_store_user = glance\nrbd_store_ceph_conf = {tmp_path}/ceph.conf\n"
            "rados_connect_timeout = 2\n")


@pytest.mark.parametrize("kind", ["s3", "rbd"])
def test_unreachable_store_is_503(tmp_path, kind, request):
    from harness import ApiServer
    server = ApiServer(str(tmp_path / "dead"), extra_conf=f"""
        [DEFAULT]
        enabled_backends = local:file, gone:{kind}
        [glance_store]
        default_backend = local
        [local]
        filesystem_store_datadir = {tmp_path}/local
        [gone]
        """ + _unreachable_section(kind, tmp_path, request))
    server.base_store_conf = False
    server.start()
    try:
        client = Client(server.url, ADMIN)
        image = client.create_image()
        response = client.upload(image["id"], b"x" * 1000, headers={"X-Image-Meta-Store": "gone"})
        assert response.status_code == 503
        assert "'gone'" in response.json()["message"]
        assert client.get(f"/v2/images/{image['id']}").json()["status"] == "queued"
        assert "unreachable at start" in server.log()
    finally:
        server.stop()


def test_wrong_credentials_stop_the_server_at_start(tmp_path, s3_service):
    import subprocess
    from harness import ApiServer, GLANCELAB
    server = ApiServer(str(tmp_path / "badcreds"), extra_conf=f"""
        [DEFAULT]
        enabled_backends = s3:s3
        [glance_store]
        default_backend = s3
        [s3]
        s3_store_host = {s3_service.env['S3_ENDPOINT']}
        s3_store_access_key = wrong
        s3_store_secret_key = wrong
        s3_store_bucket = whatever
        """)
    server.base_store_conf = False
    server.write_config()
    check = subprocess.run([GLANCELAB, "--config", server.config_path, "stores", "check"],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 1
    assert "credentials" in check.stdout and "s3_store_access_key" in check.stdout
    with pytest.raises(RuntimeError, match="credentials"):
        server.start(timeout=20)


def test_api_nodes_starting_together_share_one_new_bucket(s3_service):
    """Several nodes may create the bucket at once; losing that race is not an error."""
    import concurrent.futures
    import uuid

    from glancelab.stores.s3 import S3Store
    bucket = f"race-{uuid.uuid4().hex[:8]}"
    env = s3_service.env

    def start_node(number):
        store = S3Store(f"node{number}", env["S3_ENDPOINT"], env["S3_ACCESS_KEY"],
                        env["S3_SECRET_KEY"], bucket, create_bucket_on_put=True)
        store.check()
        return store

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        stores = list(pool.map(start_node, range(8)))
    assert len(stores) == 8 and all(store._bucket_ready for store in stores)


@pytest.mark.parametrize("store", ["obj", "s3", "ceph"])
def test_client_cut_mid_upload_leaves_no_segment_or_part(admin, store, multistore_api,
                                                         s3_client, swift_client, ceph_pool):
    """Several segments (parts) are already written or in flight when the client goes."""
    import time
    image = admin.create_image()
    with _partial_upload(multistore_api, image["id"], store, 16 * MiB, 12 * MiB + 5):
        pass  # the client goes
    deadline = time.monotonic() + 30
    while admin.get(f"/v2/images/{image['id']}").json()["status"] != "queued" or \
            time.monotonic() < deadline and _leftovers(store, image["id"], s3_client, swift_client,
                                                       ceph_pool):
        assert time.monotonic() < deadline, multistore_api.log()
        time.sleep(0.1)
    assert _leftovers(store, image["id"], s3_client, swift_client, ceph_pool) == []


def _leftovers(store, image_id, s3_client, swift_client, ceph_pool):
    if store == "ceph":  # the finished name or the temporary one of the upload
        import rbd
        return [name for name in rbd.RBD().list(ceph_pool) if image_id in name]
    if store == "s3":
        listed = s3_client.list_objects_v2(Bucket="glance-images", Prefix=image_id)
        uploads = s3_client.list_multipart_uploads(Bucket="glance-images").get("Uploads", [])
        return [o["Key"] for o in listed.get("Contents", [])] + \
            [u["Key"] for u in uploads if u["Key"] == image_id]
    _, objects = swift_client.get_container("glance", prefix=image_id)
    return [o["name"] for o in objects]
