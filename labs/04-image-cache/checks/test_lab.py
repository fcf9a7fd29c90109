"""Lab 2.4 checks: the cache is on, maintained from cron, and the second download hits it."""

from conftest import (check, expect, expect_the_cache_directory_read,
                      expect_the_second_download_from_the_cache, need)

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
    expect_the_cache_directory_read(host)


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
    expect_the_second_download_from_the_cache(api, "lab-2.4-cached")
