"""The image cache with an S3-backed image: tee, hits, corruption, concurrency, management."""

import concurrent.futures
import hashlib
import os
import socket
import subprocess
import time

import pytest
import requests

from harness import GLANCELAB, ApiServer
from helpers import ADMIN, Client, identity

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def cache_api(tmp_path_factory, s3_service):
    work = tmp_path_factory.mktemp("cache-api")
    server = ApiServer(str(work), extra_conf=f"""
        [DEFAULT]
        enabled_backends = local:file, s3:s3
        image_cache_dir = {work}/cache
        image_cache_max_size = 4MB
        image_cache_stall_time = 60
        # The API's own prefetcher runs only when woken by PUT /v2/cache/{id} here.
        cache_prefetcher_interval = 3600

        [glance_store]
        default_backend = s3

        [local]
        filesystem_store_datadir = {work}/local
        """ + s3_service.store_section("s3", "cache-images"))
    server.base_store_conf = False
    server.cache_dir = os.path.join(str(work), "cache")
    yield server.start()
    server.stop()


@pytest.fixture
def admin(cache_api):
    client = Client(cache_api.url, ADMIN)
    yield client
    client.delete("/v2/cache")  # every test starts with an empty cache and queue


def s3_image(admin, size=MiB + 7):
    payload = os.urandom(size)
    image = admin.create_image()
    assert admin.upload(image["id"], payload).status_code == 204
    return image["id"], payload


def cached(admin):
    return {e["image_id"]: e for e in admin.get("/v2/cache").json()["cached_images"]}


def wait_for(condition, seconds=10):
    """Poll until condition() holds or the time is up (the caller asserts what it needs)."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def download_into_cache(admin, image_id):
    """Download, then wait for the copy to be committed (just after the last byte went)."""
    body = admin.get(f"/v2/images/{image_id}/file").content
    wait_for(lambda: image_id in cached(admin))
    assert image_id in cached(admin)
    return body


def test_second_download_comes_from_the_cache(admin, cache_api, s3_client):
    image_id, payload = s3_image(admin)
    assert image_id not in cached(admin)
    assert download_into_cache(admin, image_id) == payload
    entry = cached(admin)[image_id]
    assert entry["size"] == len(payload) and entry["hits"] == 0
    assert admin.get(f"/v2/images/{image_id}/file").content == payload
    assert cached(admin)[image_id]["hits"] == 1
    # Proof it is the cache serving: the object is gone from S3, the bytes still come.
    s3_client.delete_object(Bucket="cache-images", Key=image_id)
    response = admin.get(f"/v2/images/{image_id}/file")
    assert response.content == payload
    assert response.headers["Content-MD5"] == hashlib.md5(payload).hexdigest()
    ranged = admin.get(f"/v2/images/{image_id}/file", headers={"Range": "bytes=10-19"})
    assert ranged.status_code == 206 and ranged.content == payload[10:20]


def test_range_download_does_not_fill_the_cache(admin):
    image_id, payload = s3_image(admin)
    response = admin.get(f"/v2/images/{image_id}/file", headers={"Range": "bytes=0-99"})
    assert response.content == payload[:100]
    assert image_id not in cached(admin)


@pytest.mark.parametrize("damage", ["truncate", "same-size-rewrite", "remove"])
def test_damaged_cache_file_is_never_served(admin, cache_api, damage):
    image_id, payload = s3_image(admin)
    download_into_cache(admin, image_id)
    path = os.path.join(cache_api.cache_dir, image_id)
    if damage == "truncate":
        os.truncate(path, 100)
    elif damage == "same-size-rewrite":
        time.sleep(0.01)
        with open(path, "r+b") as handle:
            handle.write(b"\0" * 4096)
    else:
        os.unlink(path)
    assert download_into_cache(admin, image_id) == payload
    # The damaged copy was dropped and this download cached a good one again.
    with open(path, "rb") as handle:
        assert hashlib.md5(handle.read()).hexdigest() == hashlib.md5(payload).hexdigest()


def test_client_leaving_mid_download_leaves_no_partial_copy(admin, cache_api):
    # Bigger than what loopback socket buffers can hold, so the server cannot finish
    # sending (and caching) before the client is gone.
    image_id, _ = s3_image(admin, 24 * MiB)
    host, port = cache_api.url.split("//")[1].split(":")
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.connect((host, int(port)))
        sock.sendall(f"GET /v2/images/{image_id}/file HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        sock.recv(65536)
    incomplete = os.path.join(cache_api.cache_dir, "incomplete")
    wait_for(lambda: not os.listdir(incomplete))
    assert os.listdir(incomplete) == []
    assert image_id not in cached(admin)


def glancelab(cache_api, *args):
    return subprocess.run([GLANCELAB, "--config", cache_api.config_path, *args],
                          capture_output=True, text=True, cwd=cache_api.workdir, timeout=60)


def test_put_cache_is_prefetched_by_the_api_within_seconds(admin, cache_api):
    image_id, payload = s3_image(admin)
    assert admin.get(f"/v2/cache/nodes/{image_id}").json() == []
    assert admin.put(f"/v2/cache/{image_id}").status_code == 202
    wait_for(lambda: image_id in cached(admin), seconds=15)
    assert image_id in cached(admin), "no worker prefetched the queued image"
    assert admin.get("/v2/cache").json()["queued_images"] == []
    with open(os.path.join(cache_api.cache_dir, image_id), "rb") as handle:
        assert handle.read() == payload
    # glance cache-nodes-list: this node, under its reference URL
    assert admin.get(f"/v2/cache/nodes/{image_id}").json() == [cache_api.url]
    listed = subprocess.run([os.path.join(os.path.dirname(GLANCELAB), "glance"),
                             "--os-image-url", cache_api.url, "--os-auth-token", "x",
                             "cache-nodes-list", image_id], capture_output=True, text=True,
                            timeout=60)
    assert listed.returncode == 0 and cache_api.url in listed.stdout, listed.stderr
    member = Client(cache_api.url, identity("project-x"))
    assert member.get(f"/v2/cache/nodes/{image_id}").status_code == 403
    assert admin.delete(f"/v2/cache/{image_id}").status_code == 204
    assert admin.get(f"/v2/cache/nodes/{image_id}").json() == []


def test_cli_queue_and_prefetch_for_cron(admin, cache_api):
    image_id, payload = s3_image(admin)
    queued = glancelab(cache_api, "cache", "queue", image_id)
    assert queued.returncode == 0, queued.stderr
    assert admin.get("/v2/cache").json()["queued_images"] == [image_id]
    result = glancelab(cache_api, "cache", "prefetch")
    assert result.returncode == 0, result.stderr
    assert f"{image_id}: cached" in result.stdout
    listing = admin.get("/v2/cache").json()
    assert image_id in [e["image_id"] for e in listing["cached_images"]]
    assert listing["queued_images"] == []
    assert admin.delete(f"/v2/cache/{image_id}").status_code == 204
    assert admin.delete(f"/v2/cache/{image_id}").status_code == 404
    admin.put(f"/v2/cache/{image_id}")
    download_into_cache(admin, image_id)
    assert admin.delete("/v2/cache", headers={"x-image-cache-clear-target": "queue"}).status_code == 204
    listing = admin.get("/v2/cache").json()
    assert listing["queued_images"] == [] and len(listing["cached_images"]) == 1
    assert admin.delete("/v2/cache", headers={"x-image-cache-clear-target": "nope"}).status_code == 400
    assert admin.delete("/v2/cache", headers={"x-image-cache-clear-target": "cache"}).status_code == 204
    assert admin.get("/v2/cache").json()["cached_images"] == []


def test_cache_api_is_admin_only(cache_api, admin):
    member = Client(cache_api.url, identity("project-x"))
    assert member.get("/v2/cache").status_code == 403
    assert member.delete("/v2/cache").status_code == 403


def three_cached_images(admin) -> list[str]:
    """Three 1.5 MiB images in the 4 MB cache, oldest access first."""
    ids = []
    for _ in range(3):
        image_id, _ = s3_image(admin, int(1.5 * MiB))
        download_into_cache(admin, image_id)
        ids.append(image_id)
        time.sleep(0.05)
    return ids


def test_prune_drops_least_recently_used_down_to_max_size(admin, cache_api):
    ids = three_cached_images(admin)
    admin.get(f"/v2/images/{ids[0]}/file")  # the oldest becomes the most recently used
    result = subprocess.run([GLANCELAB, "--config", cache_api.config_path, "cache", "prune"],
                            capture_output=True, text=True, cwd=cache_api.workdir, timeout=60)
    assert result.returncode == 0, result.stderr
    assert sorted(cached(admin)) == sorted([ids[0], ids[2]])
    assert not os.path.exists(os.path.join(cache_api.cache_dir, ids[1]))


def test_clean_removes_stalled_and_invalid_files(admin, cache_api):
    image_id, _ = s3_image(admin)
    download_into_cache(admin, image_id)
    stalled = os.path.join(cache_api.cache_dir, "incomplete", "stalled.123.456")
    fresh = os.path.join(cache_api.cache_dir, "incomplete", "fresh.123.456")
    stranger = os.path.join(cache_api.cache_dir, "0e0e0e0e-0000-4000-8000-000000000000")
    for path in (stalled, fresh, stranger):
        with open(path, "wb") as handle:
            handle.write(b"partial")
    old = time.time() - 3600
    os.utime(stalled, (old, old))
    # A sneaky change that keeps size and mtime: only --verify can see it.
    path = os.path.join(cache_api.cache_dir, image_id)
    stat = os.stat(path)
    with open(path, "r+b") as handle:
        handle.write(b"\xff" * 16)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    run = lambda *a: subprocess.run([GLANCELAB, "--config", cache_api.config_path, "cache", *a],  # noqa: E731
                                    capture_output=True, text=True, cwd=cache_api.workdir, timeout=60)
    assert run("clean").returncode == 0
    assert not os.path.exists(stalled) and not os.path.exists(stranger)
    assert os.path.exists(fresh)
    assert image_id in cached(admin)
    assert run("clean", "--verify").returncode == 0
    assert image_id not in cached(admin) and not os.path.exists(path)
    os.unlink(fresh)


def test_deleting_an_image_drops_its_cached_copy(admin, cache_api):
    image_id, _ = s3_image(admin)
    download_into_cache(admin, image_id)
    assert admin.delete(f"/v2/images/{image_id}").status_code == 204
    assert image_id not in cached(admin)
    assert not os.path.exists(os.path.join(cache_api.cache_dir, image_id))


def test_full_cache_disk_never_fails_a_download(tmp_path, s3_service):
    small = tmp_path / "small-cache"
    small.mkdir()
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)],
                           capture_output=True, text=True)
    if mount.returncode:
        pytest.skip(f"cannot mount a small tmpfs here: {mount.stderr.strip()}")
    server = ApiServer(str(tmp_path / "api"), extra_conf=f"""
        [DEFAULT]
        image_cache_dir = {small}
        """)
    try:
        server.start()
        client = Client(server.url, ADMIN)
        payload = os.urandom(3 * MiB)
        image = client.create_image()
        client.upload(image["id"], payload)
        response = client.get(f"/v2/images/{image['id']}/file")
        assert response.status_code == 200 and response.content == payload
        assert client.get("/v2/cache").json()["cached_images"] == []
        assert os.listdir(small / "incomplete") == []
    finally:
        server.stop()
        subprocess.run(["umount", str(small)], check=False)


def test_cache_api_is_404_when_the_cache_is_off(api):
    response = Client(api.url, ADMIN).get("/v2/cache")
    assert response.status_code == 404
    assert "image_cache_dir" in response.json()["message"]


def test_cache_api_names_only_images_never_the_caches_own_files(admin, cache_api):
    image_id, payload = s3_image(admin)
    download_into_cache(admin, image_id)
    for name in ("cache.db", "cache.db-wal", "incomplete", "prefetcher.lock", "..%2Fx"):
        assert admin.delete(f"/v2/cache/{name}").status_code == 404, name
    assert os.path.exists(os.path.join(cache_api.cache_dir, "cache.db"))
    assert admin.get(f"/v2/images/{image_id}/file").content == payload
    assert image_id in cached(admin)


def local_image(admin, size=5 * MiB + 3):
    payload = os.urandom(size)
    image = admin.create_image()
    assert admin.upload(image["id"], payload,
                        headers={"X-Image-Meta-Store": "local"}).status_code == 204
    return image["id"], payload


def store_file(cache_api, image_id):
    return os.path.join(cache_api.workdir, "local", image_id)


def test_first_download_of_a_local_file_is_copied_into_the_cache(admin, cache_api):
    # Larger than the cache's 4 MB limit on purpose: pruning is not the fill's business.
    image_id, payload = local_image(admin)
    response = admin.get(f"/v2/images/{image_id}/file")
    assert response.content == payload
    assert response.headers["Content-MD5"] == hashlib.md5(payload).hexdigest()
    wait_for(lambda: image_id in cached(admin))
    assert cached(admin)[image_id]["size"] == len(payload)
    # Proof the next download is the cache's copy: the store's file is gone.
    os.unlink(store_file(cache_api, image_id))
    assert admin.get(f"/v2/images/{image_id}/file").content == payload
    assert os.listdir(os.path.join(cache_api.cache_dir, "incomplete")) == []


@pytest.mark.parametrize("damage", ["same-size-rewrite", "truncate"])
def test_a_store_file_that_differs_from_its_image_is_never_cached(admin, cache_api, damage):
    image_id, payload = local_image(admin, MiB)
    path = store_file(cache_api, image_id)
    with open(path, "r+b") as handle:
        if damage == "truncate":
            handle.truncate(MiB // 2)
        else:
            handle.write(b"\0" * 4096)
    try:
        admin.get(f"/v2/images/{image_id}/file")
    except requests.exceptions.ChunkedEncodingError:
        pass  # a short file: the response stops where the file does
    time.sleep(1)  # the copy runs beside the request: give it time to (wrongly) commit
    assert image_id not in cached(admin)
    assert not os.path.exists(os.path.join(cache_api.cache_dir, image_id))
    assert os.listdir(os.path.join(cache_api.cache_dir, "incomplete")) == []


def test_an_object_that_differs_from_its_image_is_never_cached(admin, cache_api, s3_client):
    """The tee's copy is checked against the image's md5 before it is committed."""
    image_id, payload = s3_image(admin, 2 * MiB)
    altered = payload[:-4096] + b"\0" * 4096  # same size, other bytes
    s3_client.put_object(Bucket="cache-images", Key=image_id, Body=altered)
    assert admin.get(f"/v2/images/{image_id}/file").content == altered  # what S3 holds
    time.sleep(1)  # give a wrong commit the time to happen
    assert image_id not in cached(admin)
    assert not os.path.exists(os.path.join(cache_api.cache_dir, image_id))
    assert os.listdir(os.path.join(cache_api.cache_dir, "incomplete")) == []


@pytest.mark.parametrize("make_image", ["s3_image", "local_image"])
def test_parallel_first_downloads_cache_one_good_copy(admin, cache_api, make_image):
    """S3 data is teed by each download; a local file is copied once beside them."""
    image_id, payload = globals()[make_image](admin, 3 * MiB)
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        bodies = list(pool.map(lambda _: Client(cache_api.url, ADMIN).get(
            f"/v2/images/{image_id}/file").content, range(6)))
    assert all(body == payload for body in bodies)
    wait_for(lambda: image_id in cached(admin))
    with open(os.path.join(cache_api.cache_dir, image_id), "rb") as handle:
        assert handle.read() == payload
    assert list(cached(admin)) == [image_id]
    incomplete = os.path.join(cache_api.cache_dir, "incomplete")
    wait_for(lambda: not os.listdir(incomplete))
    assert os.listdir(incomplete) == []


def test_partial_copies_count_until_their_dead_writer_is_recovered(tmp_path):
    """A copy being written takes room (counted in the cache's size); a worker killed
    mid-copy leaves one, which goes when the master sees it die, or at the next start."""
    import signal
    work = tmp_path / "api"
    server = ApiServer(str(work), extra_conf=f"[DEFAULT]\nimage_cache_dir = {work}/cache\n")
    server.start()
    try:
        incomplete = work / "cache" / "incomplete"
        worker = server.worker_pids()[0]
        partial = incomplete / f"{'1' * 8}-1111-1111-1111-{'1' * 12}.{worker}.140000"
        partial.write_bytes(b"x" * 1000)
        listed = subprocess.run([GLANCELAB, "--config", server.config_path, "cache", "list"],
                                capture_output=True, text=True, cwd=work)
        assert "0 cached, 1000 of" in listed.stdout and "1000 in copies being written" \
            in listed.stdout, listed.stdout + listed.stderr
        os.kill(worker, signal.SIGKILL)
        wait_for(lambda: not partial.exists())
        assert not partial.exists(), server.log()
        server.stop()
        left = incomplete / f"{'2' * 8}-2222-2222-2222-{'2' * 12}.424242.1"
        left.write_bytes(b"y")
        server.start()
        assert not left.exists()
    finally:
        server.stop()


@pytest.mark.parametrize("store", ["s3", "local"])
def test_a_download_right_after_the_first_is_a_cache_hit(admin, cache_api, store):
    """The copy is committed just after the first client has its last byte; a second
    download asked for at once waits for that commit instead of missing the cache."""
    if store == "s3":
        image_id, payload = s3_image(admin)
    else:
        image_id, payload = local_image(admin, MiB + 5)
    assert admin.get(f"/v2/images/{image_id}/file").content == payload
    assert admin.get(f"/v2/images/{image_id}/file").content == payload  # no wait between
    assert cached(admin)[image_id]["hits"] == 1


def test_api_2_18_prune_and_clean(admin, cache_api):
    """POST /v2/cache/prune answers what it removed; POST /v2/cache/clean drops stalled
    partial copies and invalid entries; both admin-only, as Glance's cache_prune and
    cache_clean policies."""
    ids = three_cached_images(admin)
    member = Client(cache_api.url, identity("project-x"))
    assert member.post("/v2/cache/prune").status_code == 403
    assert member.post("/v2/cache/clean").status_code == 403
    pruned = admin.post("/v2/cache/prune")
    assert pruned.status_code == 200, pruned.text
    sizes = int(1.5 * MiB)
    assert pruned.json() == {"total_files_pruned": 1, "total_bytes_pruned": sizes}
    assert sorted(cached(admin)) == sorted(ids[1:])
    stalled = os.path.join(cache_api.cache_dir, "incomplete", f"{ids[1]}.99.99")
    with open(stalled, "wb") as handle:
        handle.write(b"partial")
    old = time.time() - 3600
    os.utime(stalled, (old, old))
    os.unlink(os.path.join(cache_api.cache_dir, ids[2]))  # its entry is now invalid
    cleaned = admin.post("/v2/cache/clean")
    assert cleaned.status_code == 200 and cleaned.content == b""
    assert not os.path.exists(stalled)
    assert sorted(cached(admin)) == [ids[1]]


def test_api_2_18_is_announced_only_with_the_cache_on(api, cache_api):
    on = requests.get(f"{cache_api.url}/versions", timeout=10).json()["versions"]
    assert on[0] == {"id": "v2.18", "status": "CURRENT",
                     "links": [{"rel": "self", "href": f"{cache_api.url}/v2/"}]}
    off = requests.get(f"{api.url}/versions", timeout=10).json()["versions"]
    assert off[0]["id"] == "v2.17" and off[0]["status"] == "CURRENT"
    assert not {"v2.18", "v2.16", "v2.14"} & {v["id"] for v in off}
    assert Client(api.url, ADMIN).post("/v2/cache/prune").status_code == 404
