"""The review exam's checks: one goal each of labs 2.1, 2.3 and 2.4, and nothing lost."""

import uuid

from conftest import (CACHE_DIR, check, expect, expect_a_directory_of_glance,
                      expect_downloads_byte_exact, expect_the_second_download_from_the_cache,
                      expect_the_store_directory_read,
                      need, normalized, set_then_restart, setting)

from glancelab_toolkit.i18n import _

NEW, OLD = "/srv/glance/images", "/var/lib/glance/images"
MB = 1024 * 1024


@check(title=_("goal 1: the store is in {path}, glance's, mode 0750").format(path=NEW))
def test_goal_1_the_store_moved(host, api):
    expect_a_directory_of_glance(host, NEW, _("lab 2.1 moves a store"))
    expect_the_store_directory_read(host, NEW, _("lab 2.1 moves a store"))
    expect_downloads_byte_exact(api, "exam-sample", b"the bytes of the exam")


@check(title=_("goal 2: no project stores more than 10 MB"))
def test_goal_2_the_quota(host, api):
    value = setting(host, "DEFAULT", "user_storage_quota")
    expect(value.upper().replace(" ", "") in ("10MB", str(10 * MB)),
           _("user_storage_quota is {value}").format(value=value or _("unset")),
           set_then_restart("user_storage_quota = 10MB", "[DEFAULT]"),
           _("lab 2.3 sets a quota"))
    project = f"exam-{uuid.uuid4().hex[:6]}"
    image_id = api.create_image("exam-too-big", project)
    status, _message = api.upload(image_id, f"head -c {10 * MB + 1} /dev/zero", project)
    api.delete(image_id)
    expect(status == 413, _("an upload of 10 MB + 1 byte answered {status}, not 413: the "
                            "quota is not enforced by the running API").format(status=status),
           set_then_restart("user_storage_quota = 10MB", "[DEFAULT]"), _("lab 2.3 sets a quota"))


@check(title=_("goal 3: the image cache is on and pruned from cron"))
def test_goal_3_the_cache(host, api):
    value = setting(host, "DEFAULT", "image_cache_dir")
    need(normalized(value) == CACHE_DIR,
         _("image_cache_dir is {value}: the cache is off").format(value=value or _("unset")),
         set_then_restart(f"image_cache_dir = {CACHE_DIR}", "[DEFAULT]"),
         _("lab 2.4 turns the cache on"))
    expect(host.file("/etc/cron.d/glancelab-cache").contains("cache prune"),
           _("no line of {path} runs `{command}`").format(path="/etc/cron.d/glancelab-cache",
                                                          command="glancelab cache prune"),
           "echo '*/30 * * * * glance glancelab cache prune' >> /etc/cron.d/glancelab-cache",
           _("lab 2.4 schedules the pruner"))
    expect_the_second_download_from_the_cache(api, "exam-cached")
