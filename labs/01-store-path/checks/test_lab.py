"""Lab 2.1 checks: the store moved, owned by glance, and its images still download."""

import hashlib

from conftest import SERVICE, expect, normalized, setting

NEW, OLD = "/srv/glance/images", "/var/lib/glance/images"
SAMPLE = "lab-2.1-sample"


def sample(api) -> dict:
    image = api.find_image(SAMPLE)
    expect(image is not None, f"the image {SAMPLE} is gone (deleted, or the database replaced)",
           "on your machine: glancelab lab start 2.1   (starts the lab over)")
    return image


def test_new_store_directory_is_owned_by_glance_with_mode_0750(host):
    datadir = host.file(NEW)
    expect(datadir.is_directory, f"{NEW} does not exist",
           f"mkdir -p {NEW} && chown glance:glance {NEW} && chmod 0750 {NEW}")
    expect((datadir.user, datadir.group) == ("glance", "glance"),
           f"{NEW} belongs to {datadir.user}:{datadir.group}", f"chown glance:glance {NEW}")
    expect(datadir.mode == 0o750, f"{NEW} has mode {oct(datadir.mode)[2:]:0>4}",
           f"chmod 0750 {NEW}")


def test_glancelab_reads_the_new_directory(host):
    value = setting(host, "glance_store", "filesystem_store_datadir")
    expect(normalized(value) == NEW,
           f"filesystem_store_datadir is {value or 'unset'} as glancelab reads it (the file, "
           "then glance-api.conf.d/ in name order, the last one wins)",
           f"set filesystem_store_datadir = {NEW} in [glance_store] of "
           f"/etc/glance/glance-api.conf, then {SERVICE} restart")


def test_no_image_data_is_left_in_the_old_directory(host, api):
    image = sample(api)
    left = host.run(f"find {OLD} -maxdepth 1 -type f -name '*-*-*-*-*'").stdout.split()
    expect(not left, f"image files are still in {OLD}: {' '.join(left)}",
           f"mv {OLD}/* {NEW}/   (then glancelab db relocate {OLD} {NEW})")
    expect(host.file(f"{NEW}/{image['id']}").exists,
           f"the data of {SAMPLE} is in neither {OLD} nor {NEW}",
           "on your machine: glancelab lab start 2.1   (the data is lost; start over)")


def test_the_image_downloads_from_the_new_directory(host, api):
    image = sample(api)
    expect(not host.file(f"{OLD}/{image['id']}").exists,
           f"{SAMPLE} would still be read from {OLD}", f"mv {OLD}/* {NEW}/")
    expect(api.download_md5(image["id"]) == hashlib.md5(b"the bytes of lab 2.1").hexdigest(),
           f"{SAMPLE} does not download: its location still names {OLD}",
           f"glancelab db relocate {OLD} {NEW}")
