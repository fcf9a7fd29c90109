"""Lab 2.2 checks: two file backends, each with its own directory; uploads go where asked."""

from conftest import (SERVICE, check, expect, expect_a_directory_of_glance, need, normalized,
                      set_then_restart, setting)

from glancelab_toolkit.i18n import _

STORES = {"fast": "/var/lib/glance/fast", "cheap": "/var/lib/glance/cheap"}


@check(step=1, title=_("each backend has its own directory, glance's"))
def test_each_backend_has_its_own_directory_owned_by_glance(host):
    for name, path in STORES.items():
        expect_a_directory_of_glance(
            host, path, _("the guide's step 1 makes one directory per backend"),
            missing=_("{path} (the {store} store) does not exist").format(path=path, store=name),
            stop=False)


@check(step=2, title=_("glancelab reads both backends, fast the default"))
def test_glancelab_reads_both_backends_with_fast_as_default(host):
    enabled = setting(host, "DEFAULT", "enabled_backends")
    expect(enabled == "fast:file, cheap:file",
           _("enabled_backends is {value}").format(value=enabled or _("unset")),
           set_then_restart("enabled_backends = fast:file, cheap:file", "[DEFAULT]"),
           _("each backend is NAME:TYPE in enabled_backends of [DEFAULT]; `glancelab config "
             "get DEFAULT enabled_backends` shows what counts"))
    default = setting(host, "glance_store", "default_backend")
    expect(default == "fast", _("default_backend is {value}").format(
               value=default or _("unset")),
           set_then_restart("default_backend = fast", "[glance_store]"),
           _("with several backends, [glance_store] names the default one"))
    for name, path in STORES.items():
        value = setting(host, name, "filesystem_store_datadir")
        expect(normalized(value) == path,
               _("[{section}] filesystem_store_datadir is {value}").format(
                   section=name, value=value or _("unset")),
               set_then_restart(f"filesystem_store_datadir = {path}", f"[{name}]"),
               _("each backend has a section of its own, named as in enabled_backends"))


@check(step=3, title=_("the running API lists both stores, fast the default"))
def test_the_api_lists_both_stores_with_fast_as_default(api):
    stores = api.json("/v2/info/stores")["stores"]
    expect([s["id"] for s in stores] == ["fast", "cheap"],
           _("the running API has the stores {stores}: it did not reread the "
             "configuration").format(stores=", ".join(s["id"] for s in stores)),
           f"{SERVICE} restart",
           _("the API reads its configuration when it starts"))
    expect(bool(stores) and stores[0].get("default") == "true",
           _("the running API's default store is not fast"), f"{SERVICE} restart",
           _("the API reads its configuration when it starts"))


@check(step=4, title=_("an upload to cheap lands in its directory"))
def test_an_upload_to_cheap_lands_in_its_directory(host, api):
    image_id = api.create_image("lab-2.2-cheap")
    try:
        status, message = api.upload(image_id, "echo lab22", store="cheap")
        need(status == 204, _("uploading to the cheap store answered {status}: {message}")
             .format(status=status, message=message),
             f"chown glance:glance {STORES['cheap']} && chmod 0750 {STORES['cheap']}",
             _("the answer names the store and the reason; the API writes as glance"))
        expect(host.file(f"{STORES['cheap']}/{image_id}").exists,
               _("the image is not in {path}").format(path=STORES["cheap"]),
               set_then_restart(f"filesystem_store_datadir = {STORES['cheap']}", "[cheap]"),
               _("`glance image-show` names the store; its section names the directory"))
        expect(api.json(f"/v2/images/{image_id}")["stores"] == "cheap",
               _("the image does not say it is in the cheap store"), "",
               _("--store cheap (X-Image-Meta-Store) picks the backend of an upload"))
    finally:
        api.delete(image_id)
