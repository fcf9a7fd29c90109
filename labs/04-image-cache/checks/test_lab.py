"""Lab 2.4 checks: the cache is on, maintained from cron, and the second download hits it."""

import time

from conftest import SERVICE, expect, normalized, setting

CACHE = "/var/lib/glance/image-cache"
CRON = "/etc/cron.d/glancelab-cache"


def test_the_cache_directory_belongs_to_glance(host):
    directory = host.file(CACHE)
    expect(directory.is_directory, f"{CACHE} does not exist",
           f"mkdir -p {CACHE} && chown glance:glance {CACHE} && chmod 0750 {CACHE}")
    expect(directory.user == "glance" and directory.mode & 0o700 == 0o700,
           f"{CACHE} is {directory.user}:{directory.group} mode {oct(directory.mode)[2:]:0>4}: "
           "glance cannot read and write it", f"chown glance:glance {CACHE} && chmod 0750 {CACHE}")


def test_glancelab_reads_the_cache_directory(host):
    value = setting(host, "DEFAULT", "image_cache_dir")
    expect(normalized(value) == CACHE, f"image_cache_dir is {value or 'unset'}: the cache is off",
           f"set image_cache_dir = {CACHE} in [DEFAULT] of /etc/glance/glance-api.conf, "
           f"then {SERVICE} restart")


def test_pruner_cleaner_and_prefetcher_are_scheduled(host):
    cron = host.file(CRON)
    expect(cron.exists, f"{CRON} does not exist: nothing keeps the cache under its size",
           f"echo '*/30 * * * * glance glancelab cache prune' > {CRON}   (and clean, prefetch)")
    for action in ("prune", "clean", "prefetch"):
        expect(cron.contains(f"cache {action}"), f"no line of {CRON} runs `glancelab cache {action}`",
               f"echo '*/30 * * * * glance glancelab cache {action}' >> {CRON}")


def test_the_second_download_comes_from_the_cache(api):
    image_id = api.create_image("lab-2.4-cached")
    status, message = api.upload(image_id, "head -c 1048576 /dev/urandom")
    expect(status == 204, f"uploading a test image answered {status}: {message}")
    try:
        first = api.download_md5(image_id)
        expect(first is not None, "the test image does not download", "tail -n 20 /var/log/glance/api.log")
        cached = []
        for _ in range(50):
            cached = api.json("/v2/cache")["cached_images"]
            if any(c["image_id"] == image_id for c in cached):
                break
            time.sleep(0.1)
        entry = next((c for c in cached if c["image_id"] == image_id), None)
        expect(entry is not None, "a downloaded image was not cached: the running API has no "
                                  "cache, or cannot write to it",
               f"chown glance:glance {CACHE} && chmod 0750 {CACHE}; {SERVICE} restart")
        expect(api.download_md5(image_id) == first, "the cached copy differs from the image",
               f"glancelab cache delete {image_id}")
        entry = next(c for c in api.json("/v2/cache")["cached_images"] if c["image_id"] == image_id)
        expect(entry["hits"] == 1, f"hits = {entry['hits']}: the second download did not use "
                                   "the cache", f"{SERVICE} restart")
    finally:
        api.delete(image_id)
