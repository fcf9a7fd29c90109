"""Lab 2.6 checks: each node sees the shared image, downloads it from S3, caches it itself."""

import hashlib
import time

from conftest import API_LOG, check, expect, need, set_then_restart, setting

from glancelab_toolkit.i18n import _

EXPECTED = hashlib.md5(b"uploaded through node a, stored in S3").hexdigest()
SHARED = "lab-2.6-shared"
CACHE = "/var/lib/glance/image-cache"


def shared(api) -> dict:
    image = api.find_image(SHARED)
    need(image is not None, _("this node does not see {name}: it is not uploaded yet, or this "
                              "node has a database of its own").format(name=SHARED),
         _("[database] connection must be the shared PostgreSQL URL on every node (see "
           "`glancelab lab guide 2.6`), then upload the image through l26a"),
         _("both nodes list the same images only when they share one database"))
    return image


@check(step=2, title=_("the node uses the shared PostgreSQL and S3"))
def test_the_node_uses_the_shared_postgresql_and_s3(host):
    connection = setting(host, "database", "connection")
    expect(connection.startswith("postgresql://"),
           _("[database] connection is {scheme}://..., not the shared PostgreSQL").format(
               scheme=connection.split("://")[0] or _("unset")),
           set_then_restart("connection = postgresql://...", "[database]") + "   "
           + _("(the lab's URL: /root/shared-services.txt)"),
           _("/root/shared-services.txt holds the lab's database URL"))
    backends = setting(host, "DEFAULT", "enabled_backends")
    expect(backends == "s3:s3", _("enabled_backends is {value}").format(
               value=backends or _("unset")),
           set_then_restart("enabled_backends = s3:s3", "[DEFAULT]") + "   "
           + _("(and default_backend = s3 in [glance_store])"),
           _("the image data lives in the shared S3 store, named in enabled_backends"))


@check(step=5, title=_("the image uploaded through the other node downloads here"))
def test_the_image_uploaded_through_the_other_node_downloads_here(api):
    image = shared(api)
    expect(image["stores"] == "s3", _("{name} is in the {store} store, not s3").format(
               name=SHARED, store=image["stores"]),
           _("upload it again with default_backend = s3 on the node you upload through"),
           _("a node's default backend decides where its uploads go"))
    expect(api.download_md5(image["id"]) == EXPECTED,
           _("{name} does not download here, or its bytes differ").format(name=SHARED),
           f"tail -n 20 {API_LOG}", _("the API's log says why it answered so"))


@check(step=5, title=_("each node has its own cache"))
def test_each_node_has_its_own_cache(api, host):
    image = shared(api)
    api.download_md5(image["id"])
    for _attempt in range(50):
        status, _body = api.request("GET", "/v2/cache")
        if status == 200 and any(c["image_id"] == image["id"]
                                 for c in api.json("/v2/cache")["cached_images"]):
            break
        time.sleep(0.1)
    expect(host.file(f"{CACHE}/{image['id']}").exists,
           _("{name} is not in this node's cache {path}").format(name=SHARED, path=CACHE),
           set_then_restart(f"image_cache_dir = {CACHE}", "[DEFAULT]"),
           _("each node keeps its own cache: image_cache_dir on every node"))
