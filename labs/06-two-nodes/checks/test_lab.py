"""Lab 2.6 checks: each node sees the shared image, downloads it from S3, caches it itself."""

import hashlib
import time

from conftest import SERVICE, expect, setting

EXPECTED = hashlib.md5(b"uploaded through node a, stored in S3").hexdigest()
SHARED = "lab-2.6-shared"
CACHE = "/var/lib/glance/image-cache"


def shared(api) -> dict:
    image = api.find_image(SHARED)
    expect(image is not None, f"this node does not see {SHARED}: it is not uploaded yet, or "
                              "this node has a database of its own",
           "[database] connection must be the shared PostgreSQL URL on every node (see "
           "`glancelab lab guide 2.6`), then upload the image through l26a")
    return image


def test_the_node_uses_the_shared_postgresql_and_s3(host):
    connection = setting(host, "database", "connection")
    expect(connection.startswith("postgresql://"), "[database] connection is "
           f"{connection.split('://')[0] or 'unset'}://..., not the shared PostgreSQL",
           "set connection = postgresql://... (the lab's URL, in the guide) in [database] of "
           f"/etc/glance/glance-api.conf, then {SERVICE} restart")
    backends = setting(host, "DEFAULT", "enabled_backends")
    expect(backends == "s3:s3", f"enabled_backends is {backends or 'unset'}",
           f"set enabled_backends = s3:s3 in [DEFAULT] and default_backend = s3 in "
           f"[glance_store], then {SERVICE} restart")


def test_the_image_uploaded_through_the_other_node_downloads_here(api):
    image = shared(api)
    expect(image["stores"] == "s3", f"{SHARED} is in the {image['stores']} store, not s3",
           "upload it again with default_backend = s3 on the node you upload through")
    expect(api.download_md5(image["id"]) == EXPECTED, f"{SHARED} does not download here, or "
           "its bytes differ", "tail -n 20 /var/log/glance/api.log")


def test_each_node_has_its_own_cache(api, host):
    image = shared(api)
    api.download_md5(image["id"])
    for _ in range(50):
        status, _ = api.request("GET", "/v2/cache")
        if status == 200 and any(c["image_id"] == image["id"]
                                 for c in api.json("/v2/cache")["cached_images"]):
            break
        time.sleep(0.1)
    expect(host.file(f"{CACHE}/{image['id']}").exists,
           f"{SHARED} is not in this node's cache {CACHE}",
           f"set image_cache_dir = {CACHE} in [DEFAULT], then {SERVICE} restart")
