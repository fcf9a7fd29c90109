"""Lab 2.4 checks: the cache is on, maintained from cron, and the second download hits it."""

import time


def test_cache_directory_and_config(host):
    directory = host.file("/var/lib/glance/image-cache")
    assert directory.is_directory and directory.user == "glance", (
        "create /var/lib/glance/image-cache owned by glance")
    result = host.run("grep -rh '^image_cache_dir' /etc/glance/glance-api.conf.d/")
    assert "image_cache_dir = /var/lib/glance/image-cache" in result.stdout, (
        "set image_cache_dir in [DEFAULT] and restart glancelab-api")


def test_pruner_cleaner_and_prefetcher_are_scheduled(host):
    cron = host.file("/etc/cron.d/glancelab-cache")
    assert cron.exists, "schedule the cache jobs in /etc/cron.d/glancelab-cache"
    for action in ("prune", "clean", "prefetch"):
        assert cron.contains(f"cache {action}"), f"no cron job runs `glancelab cache {action}`"


def test_second_download_comes_from_the_cache(api):
    image_id = api.create_image("lab-2.4-cached")
    assert api.upload(image_id, "head -c 1048576 /dev/urandom") == "204"
    first = api.download(image_id)
    for _ in range(50):
        if any(c["image_id"] == image_id for c in api.json("/v2/cache")["cached_images"]):
            break
        time.sleep(0.1)
    assert api.download(image_id) == first
    entry = next((c for c in api.json("/v2/cache")["cached_images"] if c["image_id"] == image_id),
                 None)
    assert entry is not None, "the image was not cached: is image_cache_dir set and writable?"
    assert entry["hits"] == 1, f"hits = {entry['hits']}: the second download did not use the cache"
