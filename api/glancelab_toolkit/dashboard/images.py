"""The images pages: the list in Horizon's tabs, an image's detail, and what a user does to
images (create by upload, glance-direct or web-download, edit, share, accept, deactivate,
copy to a store, cache, delete), each as the API's policy allows the caller."""

from __future__ import annotations

import json
import re

import falcon

from glancelab_toolkit.dashboard import glance
from glancelab_toolkit.dashboard.web import Page

PAGE_SIZE = 25
CHUNK = 1024 * 1024
IMAGE_ID = re.compile(r"^[0-9a-fA-F-]{36}$")
# what the creation form offers, as Horizon's
DISK_FORMATS = ("qcow2", "raw", "iso", "vmdk", "vdi", "vhd", "vhdx", "ami", "ari", "aki",
                "ploop")
CONTAINER_FORMATS = ("bare", "ovf", "ova", "aki", "ari", "ami", "docker", "compressed")
VISIBILITIES = ("private", "shared", "community", "public")
# fields shown apart on the detail page; every other one is a property
BASE_FIELDS = ("id", "name", "status", "visibility", "protected", "owner", "size",
               "virtual_size", "disk_format", "container_format", "checksum", "os_hash_algo",
               "os_hash_value", "created_at", "updated_at", "min_disk", "min_ram", "tags",
               "stores", "locations", "direct_url", "file", "schema", "self", "os_hidden")


def checked_id(image_id: str) -> str:
    if not IMAGE_ID.match(image_id):
        raise falcon.HTTPNotFound()
    return image_id


class Images(Page):
    def on_get(self, req, resp):
        session = self.signed_in(req)
        tab = req.get_param("tab") or "project"
        if tab not in glance.TABS:
            tab = "project"
        name = (req.get_param("name") or "").strip()
        marker = req.get_param("marker")

        def fetch():
            page = self.dashboard.glance(session).images(
                glance.tab_filters(tab, session.project_id), name, marker, PAGE_SIZE)
            return {"images": page.get("images", []), "tab": tab, "tabs": glance.TABS,
                    "name": name, "following": glance.next_marker(page, "images"),
                    "moving": glance.MOVING}

        self.show(req, resp, session, "images.html", fetch)

    def on_post(self, req, resp):
        """Create an image. From the page's script (Accept: JSON) the answer is the new
        image, whose data the script then sends; a web-download goes on here."""
        session, form = self.posted(req)
        fields = {"name": form.get("name", "").strip(),
                  "disk_format": form.get("disk_format", "qcow2"),
                  "container_format": form.get("container_format", "bare"),
                  "visibility": form.get("visibility", "private")}
        api = self.dashboard.glance(session)
        if req.client_accepts_json and not req.client_accepts("text/html"):
            try:
                image = api.create(fields)
            except (glance.ApiRefused, glance.ApiUnavailable) as exc:
                return self.api_failed_json(resp, exc)
            resp.status = falcon.HTTP_201
            resp.media = {"id": image["id"], "status": image["status"]}
            return
        created = {}

        def web_download():
            created.update(api.create(fields))
            api.import_image(created["id"], {"name": "web-download",
                                             "uri": form.get("uri", "").strip()})

        self.act(req, resp, session, web_download, lambda: f"/images/{created['id']}",
                 refused_back="/images/new")


class NewImage(Page):
    def on_get(self, req, resp):
        session = self.signed_in(req)

        def fetch():
            try:
                methods = self.dashboard.glance(session).import_info()
            except glance.ApiRefused:
                methods = []
            return {"disk_formats": DISK_FORMATS, "container_formats": CONTAINER_FORMATS,
                    "visibilities": VISIBILITIES, "methods": methods}

        self.show(req, resp, session, "new_image.html", fetch)


class ImageData(Page):
    """PUT /images/{id}/file (the data) or /images/{id}/stage (glance-direct, imported
    after): the browser's body streamed to the API a chunk at a time, whatever its size."""

    def on_put(self, req, resp, image_id: str, where: str):
        session, _form = self.posted(req)
        image_id = checked_id(image_id)
        if where not in ("file", "stage"):
            raise falcon.HTTPNotFound()
        api = self.dashboard.glance(session)
        body = _Body(req.bounded_stream, req.content_length)
        try:
            if where == "stage":
                api.stage(image_id, body)
                api.import_image(image_id, {"name": "glance-direct"})
            else:
                api.upload(image_id, body)
        except (glance.ApiRefused, glance.ApiUnavailable) as exc:
            return self.api_failed_json(resp, exc)
        resp.status = falcon.HTTP_204


class _Body:
    """The request body as requests streams a file: read(n), and its length."""

    def __init__(self, stream, size: int | None):
        self.stream, self.size = stream, size or 0

    def read(self, size: int = CHUNK) -> bytes:
        return self.stream.read(min(size if size and size > 0 else CHUNK, CHUNK))

    def __len__(self) -> int:
        return self.size


class Statuses(Page):
    """GET /images/status?ids=a,b: the pages' script follows moving statuses with it."""

    def on_get(self, req, resp):
        session = self.signed_in(req)
        ids = [i for i in (req.get_param("ids") or "").split(",") if IMAGE_ID.match(i)][:50]
        api = self.dashboard.glance(session)
        found = {}
        for image_id in ids:
            try:
                image = api.image(image_id)
            except glance.ApiRefused:
                found[image_id] = {"status": "deleted"}
                continue
            except glance.ApiUnavailable as exc:
                return self.api_failed_json(resp, exc)
            found[image_id] = {"status": image["status"], "size": image.get("size")}
        resp.set_header("Cache-Control", "no-store")
        resp.media = found


class ImageDetail(Page):
    def on_get(self, req, resp, image_id: str):
        session = self.signed_in(req)
        image_id = checked_id(image_id)

        def fetch():
            api = self.dashboard.glance(session)
            image = api.image(image_id)
            mine = session.project_id is None or image.get("owner") == session.project_id
            members = tasks = None
            if mine or session.is_admin:
                try:
                    members = api.members(image_id)
                except glance.ApiRefused:  # a private or public image has none
                    members = None
                try:
                    tasks = api.image_tasks(image_id)
                except glance.ApiRefused:
                    tasks = None
            try:
                stores = [s["id"] for s in api.stores(detail=False)]
            except glance.ApiRefused:
                stores = []
            properties = {k: v for k, v in sorted(image.items()) if k not in BASE_FIELDS}
            return {"image": image, "properties": properties, "members": members,
                    "tasks": tasks, "mine": mine, "member": not mine and
                    image.get("visibility") == "shared",
                    "other_stores": [s for s in stores if s not in image.get("stores", "")
                                     .split(",")],
                    "moving": glance.MOVING,
                    "json": json.dumps(image, indent=2, sort_keys=True)}

        self.show(req, resp, session, "image.html", fetch)


class ImageAction(Page):
    """POST /images/{id}/{action}: one form of the detail page."""

    ACTIONS = ("delete", "deactivate", "reactivate", "share", "accept", "reject",
               "property", "copy", "cache")

    def on_post(self, req, resp, image_id: str, action: str):
        session, form = self.posted(req)
        image_id = checked_id(image_id)
        if action not in self.ACTIONS:
            raise falcon.HTTPNotFound()
        api = self.dashboard.glance(session)
        back = "/images" if action == "delete" else f"/images/{image_id}"

        def do():
            if action == "delete":
                api.delete(image_id)
            elif action in ("deactivate", "reactivate"):
                api.action(image_id, action)
            elif action == "share":
                if api.image(image_id)["visibility"] != "shared":
                    api.patch(image_id, [{"op": "replace", "path": "/visibility",
                                          "value": "shared"}])
                api.add_member(image_id, form.get("project", "").strip())
            elif action in ("accept", "reject"):
                api.set_member_status(image_id, session.project_id,
                                      "accepted" if action == "accept" else "rejected")
            elif action == "property":
                key, value = form.get("key", "").strip(), form.get("value", "")
                exists = key in api.image(image_id)
                if value:
                    op = "replace" if exists else "add"
                    api.patch(image_id, [{"op": op, "path": f"/{key}", "value": value}])
                elif exists:
                    api.patch(image_id, [{"op": "remove", "path": f"/{key}"}])
            elif action == "copy":
                api.import_image(image_id, {"name": "copy-image"}, [form.get("store", "")])
            elif action == "cache":
                api.queue_for_cache(image_id)

        self.act(req, resp, session, do, back)
