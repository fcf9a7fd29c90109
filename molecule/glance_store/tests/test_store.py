"""After lab 2.1: the store lives in its new directory and images still download."""

import json


def test_new_directory_owner_and_mode(host):
    datadir = host.file("/srv/glance/images")
    assert datadir.is_directory
    assert (datadir.user, datadir.group, datadir.mode) == ("glance", "glance", 0o750)


def test_images_moved_with_their_permissions(host):
    moved = host.run("find /srv/glance/images -type f -name '*-*-*-*-*'").stdout.split()
    assert len(moved) == 1
    image = host.file(moved[0])
    assert (image.user, image.group, image.mode) == ("glance", "glance", 0o640)
    assert host.run("find /var/lib/glance/images -type f -name '*-*-*-*-*'").stdout == ""


def test_config_switched(host):
    snippet = host.file("/etc/glance/glance-api.conf.d/20-store.conf")
    assert snippet.contains("^filesystem_store_datadir = /srv/glance/images$")
    assert snippet.contains("^filesystem_store_file_perm = 0640$")


def test_image_still_downloads(host):
    address = host.ansible.get_variables()["ansible_host"]
    listing = json.loads(host.check_output(f"curl -sf http://{address}:9292/v2/images"))
    image = next(i for i in listing["images"] if i["name"] == "before-the-move")
    data = host.check_output(f"curl -sf http://{address}:9292/v2/images/{image['id']}/file")
    assert data == "lab 2.1 image data"
