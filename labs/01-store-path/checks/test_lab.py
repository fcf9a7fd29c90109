"""Lab 2.1 checks: the store moved, owned by glance, and its images still download."""

import hashlib

from conftest import check, expect, expect_the_store_directory_read, need

from glancelab_toolkit.i18n import _

NEW, OLD = "/srv/glance/images", "/var/lib/glance/images"
SAMPLE = "lab-2.1-sample"


def sample(api) -> dict:
    image = api.find_image(SAMPLE)
    need(image is not None,
         _("the image {name} is gone (deleted, or the database replaced)").format(name=SAMPLE),
         _("on your machine: glancelab lab start 2.1   (starts the lab over)"),
         _("`glance image-list` shows the images the API knows"))
    return image


@check(step=2, title=_("the new store directory belongs to glance, mode 0750"))
def test_new_store_directory_is_owned_by_glance_with_mode_0750(host):
    datadir = host.file(NEW)
    need(datadir.is_directory, _("{path} does not exist").format(path=NEW),
         f"mkdir -p {NEW} && chown glance:glance {NEW} && chmod 0750 {NEW}",
         _("the guide's step 2 makes it"))
    expect((datadir.user, datadir.group) == ("glance", "glance"),
           _("{path} belongs to {owner}").format(path=NEW,
                                                 owner=f"{datadir.user}:{datadir.group}"),
           f"chown glance:glance {NEW}",
           _("the API runs as the user glance: `ls -ld {path}` shows who owns it").format(
               path=NEW))
    expect(datadir.mode == 0o750, _("{path} has mode {mode}").format(
               path=NEW, mode=f"{oct(datadir.mode)[2:]:0>4}"),
           f"chmod 0750 {NEW}",
           _("its owner needs rwx, its group r-x, everyone else nothing"))


@check(step=4, title=_("no image file is left in the old directory"))
def test_no_image_data_is_left_in_the_old_directory(host, api):
    image = sample(api)
    left = host.run(f"find {OLD} -maxdepth 1 -type f -name '*-*-*-*-*'").stdout.split()
    expect(not left, _("image files are still in {path}: {files}").format(
               path=OLD, files=" ".join(left)),
           f"mv {OLD}/* {NEW}/   " + _("(then {command})").format(
               command=f"glancelab db relocate {OLD} {NEW}"),
           _("an image's data is one file named by its id; `ls -l {path}`").format(path=OLD))
    expect(host.file(f"{NEW}/{image['id']}").exists,
           _("the data of {name} is in neither {old} nor {new}").format(
               name=SAMPLE, old=OLD, new=NEW),
           _("on your machine: glancelab lab start 2.1   (the data is lost; start over)"),
           _("`glance image-show {name}` gives the id, the file's name").format(name=SAMPLE))


@check(step=6, title=_("glancelab reads the new directory from its configuration"))
def test_glancelab_reads_the_new_directory(host):
    expect_the_store_directory_read(
        host, NEW, _("`glancelab config get glance_store filesystem_store_datadir` shows the "
                     "value that counts; a snippet in glance-api.conf.d/ may win over the file"))


@check(step=7, title=_("the image downloads from the new directory"))
def test_the_image_downloads_from_the_new_directory(host, api):
    image = sample(api)
    expect(not host.file(f"{OLD}/{image['id']}").exists,
           _("{name} would still be read from {path}").format(name=SAMPLE, path=OLD),
           f"mv {OLD}/* {NEW}/",
           _("its file is still in the old directory"))
    expect(api.download_md5(image["id"]) == hashlib.md5(b"the bytes of lab 2.1").hexdigest(),
           _("{name} does not download: its location still names {path}").format(
               name=SAMPLE, path=OLD),
           f"glancelab db relocate {OLD} {NEW}",
           _("each image's location records the full file:// path of its data; the files "
             "moved, the records did not"))
