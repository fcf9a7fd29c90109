"""Lab 2.6 checks: each node sees the shared image, downloads it from S3, caches it itself."""

import hashlib
import time

EXPECTED = hashlib.md5(b"uploaded through node a, stored in S3").hexdigest()


def test_node_uses_postgresql_and_s3(host):
    conf = host.file("/etc/glance/glance-api.conf")
    assert conf.contains("^connection = postgresql://"), (
        "[database] connection must point at the shared PostgreSQL on every node")
    assert conf.contains("^enabled_backends = s3:s3$"), "enable the shared s3 backend"


def test_image_uploaded_through_the_other_node_downloads_here(api):
    images = api.json("/v2/images?name=lab-2.6-shared")["images"]
    assert len(images) == 1, "this node does not see the image: is it on the same database?"
    assert images[0]["stores"] == "s3"
    assert api.download(images[0]["id"]) == EXPECTED, "the data did not come back from S3"


def test_each_node_has_its_own_cache(api, host):
    image_id = api.json("/v2/images?name=lab-2.6-shared")["images"][0]["id"]
    api.download(image_id)
    for _ in range(50):
        if any(c["image_id"] == image_id for c in api.json("/v2/cache")["cached_images"]):
            break
        time.sleep(0.1)
    assert host.file(f"/var/lib/glance/image-cache/{image_id}").exists, (
        "the image is not in this node's cache: check image_cache_dir")
