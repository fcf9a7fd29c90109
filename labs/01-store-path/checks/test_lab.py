"""Lab 2.1 checks: the store moved, owned by glance, and the images still download."""

import hashlib


def test_new_store_directory_has_owner_glance_and_mode_0750(host):
    datadir = host.file("/srv/glance/images")
    assert datadir.is_directory, "/srv/glance/images is missing: create it (mkdir -p)"
    assert (datadir.user, datadir.group) == ("glance", "glance"), (
        f"owner is {datadir.user}:{datadir.group}: run chown glance:glance /srv/glance/images")
    assert datadir.mode == 0o750, f"mode is {oct(datadir.mode)}: run chmod 0750 /srv/glance/images"


def test_config_points_at_the_new_directory(host):
    result = host.run("grep -rh '^filesystem_store_datadir' /etc/glance/glance-api.conf "
                      "/etc/glance/glance-api.conf.d/")
    assert result.stdout.strip().splitlines()[-1] == "filesystem_store_datadir = /srv/glance/images", (
        "the last filesystem_store_datadir glancelab reads is not /srv/glance/images: set it in "
        "[glance_store] and restart glancelab-api")


def test_images_left_the_old_directory(host):
    left = host.run("find /var/lib/glance/images -type f").stdout.split()
    assert left == [], f"files still in the old directory: {left}; move them to /srv/glance/images"


def test_image_still_downloads_after_the_move(api):
    images = api.json("/v2/images?name=lab-2.1-sample")["images"]
    assert images, "the sample image is gone: it was deleted, or the database was replaced"
    assert api.download(images[0]["id"]) == hashlib.md5(b"the bytes of lab 2.1").hexdigest(), (
        "the image does not download: its location still points at the old directory; run "
        "glancelab db relocate /var/lib/glance/images /srv/glance/images")
