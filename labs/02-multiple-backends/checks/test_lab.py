"""Lab 2.2 checks: two file backends, each with its own directory; uploads go where asked."""

from conftest import SERVICE, expect, normalized, setting

STORES = {"fast": "/var/lib/glance/fast", "cheap": "/var/lib/glance/cheap"}


def test_each_backend_has_its_own_directory_owned_by_glance(host):
    for name, path in STORES.items():
        directory = host.file(path)
        expect(directory.is_directory, f"{path} (the {name} store) does not exist",
               f"mkdir -p {path} && chown glance:glance {path} && chmod 0750 {path}")
        expect((directory.user, directory.group, directory.mode) == ("glance", "glance", 0o750),
               f"{path} is {directory.user}:{directory.group} mode {oct(directory.mode)[2:]:0>4}",
               f"chown glance:glance {path} && chmod 0750 {path}")


def test_glancelab_reads_both_backends_with_fast_as_default(host):
    enabled = setting(host, "DEFAULT", "enabled_backends")
    expect(enabled == "fast:file, cheap:file", f"enabled_backends is {enabled or 'unset'}",
           "set enabled_backends = fast:file, cheap:file in [DEFAULT] of "
           f"/etc/glance/glance-api.conf, then {SERVICE} restart")
    default = setting(host, "glance_store", "default_backend")
    expect(default == "fast", f"default_backend is {default or 'unset'}",
           f"set default_backend = fast in [glance_store], then {SERVICE} restart")
    for name, path in STORES.items():
        value = setting(host, name, "filesystem_store_datadir")
        expect(normalized(value) == path, f"[{name}] filesystem_store_datadir is {value or 'unset'}",
               f"set filesystem_store_datadir = {path} in [{name}], then {SERVICE} restart")


def test_the_api_lists_both_stores_with_fast_as_default(api):
    stores = api.json("/v2/info/stores")["stores"]
    expect([s["id"] for s in stores] == ["fast", "cheap"],
           f"the running API has the stores {', '.join(s['id'] for s in stores)}: it did not "
           "reread the configuration", f"{SERVICE} restart")
    expect(stores[0].get("default") == "true", "the running API's default store is not fast",
           f"{SERVICE} restart")


def test_an_upload_to_cheap_lands_in_its_directory(host, api):
    image_id = api.create_image("lab-2.2-cheap")
    status, message = api.upload(image_id, "echo lab22", store="cheap")
    expect(status == 204, f"uploading to the cheap store answered {status}: {message}",
           f"chown glance:glance {STORES['cheap']} && chmod 0750 {STORES['cheap']}")
    expect(host.file(f"{STORES['cheap']}/{image_id}").exists,
           f"the image is not in {STORES['cheap']}",
           f"set filesystem_store_datadir = {STORES['cheap']} in [cheap], then {SERVICE} restart")
    expect(api.json(f"/v2/images/{image_id}")["stores"] == "cheap",
           "the image does not say it is in the cheap store")
    api.delete(image_id)
