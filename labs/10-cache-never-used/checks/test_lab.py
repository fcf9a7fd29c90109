"""Lab 3.2 checks: the cache's settings are read, the second download comes from it, the
configuration checks clean, and the image that existed is unchanged."""

from conftest import (CONF, check, expect, expect_downloads_byte_exact,
                      expect_the_cache_directory_read, expect_the_second_download_from_the_cache)

from glancelab_toolkit.i18n import _


@check(title=_("glancelab reads the cache directory"))
def test_glancelab_reads_the_cache_directory(host):
    expect_the_cache_directory_read(host)


@check(title=_("the configuration checks clean"))
def test_the_configuration_checks_clean(host):
    checked = host.run(f"glancelab config check {CONF}")
    problems = [line for line in checked.stdout.splitlines() if line.startswith("error:")]
    expect(checked.rc == 0, _("`{command}` finds problems: {problems}").format(
               command=f"glancelab config check {CONF}", problems=" ".join(problems)[:400]),
           _("move each key it names to the section it names, then {command}").format(
               command="/etc/init.d/glancelab-api restart"),
           _("`glancelab config check` names every key read nowhere, and where it belongs"))


@check(title=_("the second download comes from the cache"))
def test_the_second_download_comes_from_the_cache(api):
    expect_the_second_download_from_the_cache(api, "lab-3.2-cached")


@check(title=_("the image that existed still downloads, its bytes unchanged"))
def test_the_image_that_existed_still_downloads(api):
    expect_downloads_byte_exact(api, "lab-3.2-sample", b"the bytes of lab 3.2")
