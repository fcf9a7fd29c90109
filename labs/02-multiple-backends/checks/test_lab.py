"""Lab 2.2 checks: two file backends, each with its own directory; uploads go where asked."""


def test_each_backend_has_its_directory(host):
    for name in ("fast", "cheap"):
        directory = host.file(f"/var/lib/glance/{name}")
        assert directory.is_directory, f"/var/lib/glance/{name} is missing: create it"
        assert (directory.user, directory.mode) == ("glance", 0o750), (
            f"/var/lib/glance/{name}: chown glance:glance and chmod 0750 it")


def test_api_lists_both_stores_with_fast_as_default(api):
    stores = api.json("/v2/info/stores")["stores"]
    assert [s["id"] for s in stores] == ["fast", "cheap"], (
        "set enabled_backends = fast:file, cheap:file in [DEFAULT] and restart glancelab-api")
    assert stores[0].get("default") == "true", "set default_backend = fast in [glance_store]"


def test_upload_to_cheap_lands_in_its_directory(host, api):
    image_id = api.create_image("lab-2.2-cheap")
    assert api.upload(image_id, "echo lab22", store="cheap") == "204"
    assert host.file(f"/var/lib/glance/cheap/{image_id}").exists, (
        "the image is not in /var/lib/glance/cheap: check [cheap] filesystem_store_datadir")
    assert api.json(f"/v2/images/{image_id}")["stores"] == "cheap"
