"""Lab 2.4 checks: the cache is on, maintained from cron, and the second download hits it."""

import time

from conftest import API_LOG, SERVICE, check, expect, need, normalized, set_then_restart, \
    setting

from glancelab_toolkit.i18n import _

CACHE = "/var/lib/glance/image-cache"
CRON = "/etc/cron.d/glancelab-cache"
OWN_IT = f"chown glance:glance {CACHE} && chmod 0750 {CACHE}"


@check(step=1, title=_("the cache directory belongs to glance"))
def test_the_cache_directory_belongs_to_glance(host):
    directory = host.file(CACHE)
    need(directory.is_directory, _("{path} does not exist").format(path=CACHE),
         f"mkdir -p {CACHE} && {OWN_IT}", _("the guide's step 1 makes it"))
    expect(directory.user == "glance" and directory.mode & 0o700 == 0o700,
           _("{path} is {owner} mode {mode}: glance cannot read and write it").format(
               path=CACHE, owner=f"{directory.user}:{directory.group}",
               mode=f"{oct(directory.mode)[2:]:0>4}"), OWN_IT,
           _("the API runs as glance: it must own the directory, closed to others "
             "(`ls -ld {path}`)").format(path=CACHE))


@check(step=2, title=_("glancelab reads the cache directory"))
def test_glancelab_reads_the_cache_directory(host):
    value = setting(host, "DEFAULT", "image_cache_dir")
    expect(normalized(value) == CACHE,
           _("image_cache_dir is {value}: the cache is off").format(value=value or _("unset")),
           set_then_restart(f"image_cache_dir = {CACHE}", "[DEFAULT]"),
           _("the cache is on when [DEFAULT] names its directory; `glancelab config get "
             "DEFAULT image_cache_dir` shows what counts"))


@check(step=4, title=_("the pruner, the cleaner and the prefetcher are scheduled"))
def test_pruner_cleaner_and_prefetcher_are_scheduled(host):
    cron = host.file(CRON)
    need(cron.exists, _("{path} does not exist: nothing keeps the cache under its size")
         .format(path=CRON),
         f"echo '*/30 * * * * glance glancelab cache prune' > {CRON}   "
         + _("(and clean, prefetch)"),
         _("cron reads /etc/cron.d/; each line: schedule, user, command"))
    for action in ("prune", "clean", "prefetch"):
        expect(cron.contains(f"cache {action}"),
               _("no line of {path} runs `{command}`").format(
                   path=CRON, command=f"glancelab cache {action}"),
               f"echo '*/30 * * * * glance glancelab cache {action}' >> {CRON}",
               _("the guide's step 4 lists the three lines"))


@check(step=5, title=_("the second download comes from the cache"))
def test_the_second_download_comes_from_the_cache(api):
    image_id = api.create_image("lab-2.4-cached")
    try:
        status, message = api.upload(image_id, "head -c 1048576 /dev/urandom")
        need(status == 204, _("uploading a test image answered {status}: {message}").format(
                 status=status, message=message), f"tail -n 20 {API_LOG}",
             _("the API's log says why it answered so"))
        first = api.download_md5(image_id)
        need(first is not None, _("the test image does not download"), f"tail -n 20 {API_LOG}",
             _("the API's log says why it answered so"))
        cached = []
        for _attempt in range(50):
            cached = api.json("/v2/cache")["cached_images"]
            if any(c["image_id"] == image_id for c in cached):
                break
            time.sleep(0.1)
        entry = next((c for c in cached if c["image_id"] == image_id), None)
        need(entry is not None, _("a downloaded image was not cached: the running API has no "
                                  "cache, or cannot write to it"),
             f"{OWN_IT}; {SERVICE} restart",
             _("the API's log names a cache it cannot write"))
        expect(api.download_md5(image_id) == first, _("the cached copy differs from the image"),
               f"glancelab cache delete {image_id}",
               _("a damaged cache file is dropped; `glancelab cache list` shows the copies"))
        entry = next(c for c in api.json("/v2/cache")["cached_images"]
                     if c["image_id"] == image_id)
        expect(entry["hits"] == 1, _("hits = {hits}: the second download did not use the "
                                     "cache").format(hits=entry["hits"]), f"{SERVICE} restart",
               _("`curl -s $OS_ENDPOINT/v2/cache` shows each copy's hits"))
    finally:
        api.delete(image_id)
