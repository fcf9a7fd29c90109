"""Small helpers for API tests: identities as keystonemiddleware would send them."""

from __future__ import annotations

import socket
import time
import uuid

import requests


def identity(project: str, roles: str = "member,reader", user: str | None = None) -> dict:
    return {"X-Identity-Status": "Confirmed", "X-Project-Id": project,
            "X-User-Id": user or f"user-{project}", "X-Roles": roles}


ADMIN = identity("admin", "admin,member,reader")


def as_member(server, project: str, roles: str = "member,reader") -> "Client":
    """A client holding `roles` on `project`: identity headers, or against a keystone-mode
    server a real token of a Keystone user with those roles (client.project is then the
    project's Keystone id)."""
    if server.keystone is None:
        return Client(server.url, identity(project, roles), project=project)
    token, project_id = server.keystone.member_of(project, roles)
    return Client(server.url, {"X-Auth-Token": token}, project=project_id)


def as_admin(server) -> "Client":
    if server.keystone is None:
        return Client(server.url, ADMIN, project="admin")
    token, project_id = server.keystone.login("admin")
    return Client(server.url, {"X-Auth-Token": token}, project=project_id)


class Client:
    """requests against one server, as one project."""

    def __init__(self, url: str, headers: dict, project: str | None = None):
        self.url = url
        self.project = project or headers.get("X-Project-Id")
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json", **headers})

    def start_raw_upload(self, image_id: str, declared: int, first_part: bytes,
                         headers: dict | None = None) -> socket.socket:
        """An upload that announces `declared` bytes and sends only `first_part`, as this
        client (its identity headers or token); the open socket is the client's to cut."""
        host, port = self.url.split("//")[1].split(":")
        own = {name: value for name, value in self.session.headers.items()
               if name.startswith("X-") or name == "Accept"}
        lines = "".join(f"{name}: {value}\r\n"
                        for name, value in {**own, **(headers or {})}.items())
        sock = socket.create_connection((host, int(port)))
        sock.sendall((f"PUT /v2/images/{image_id}/file HTTP/1.1\r\nHost: {host}\r\n{lines}"
                      "Content-Type: application/octet-stream\r\n"
                      f"Content-Length: {declared}\r\n\r\n").encode() + first_part)
        return sock

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, self.url + path, timeout=60, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def patch(self, path, ops, **kw):
        headers = {"Content-Type": "application/openstack-images-v2.1-json-patch"}
        return self.request("PATCH", path, json=None, data=__import__("json").dumps(ops),
                            headers=headers, **kw)

    def create_image(self, **fields) -> dict:
        body = {"name": f"img-{uuid.uuid4().hex[:8]}", "disk_format": "raw",
                "container_format": "bare", **fields}
        response = self.post("/v2/images", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def upload(self, image_id: str, data, **kw) -> requests.Response:
        headers = {"Content-Type": "application/octet-stream", **kw.pop("headers", {})}
        return self.put(f"/v2/images/{image_id}/file", data=data, headers=headers, **kw)


def wait_for_task(client: Client, image_id: str, timeout: float = 60) -> dict:
    """The image's latest import task once it has finished (success or failure)."""
    deadline = time.monotonic() + timeout
    tasks = None
    while time.monotonic() < deadline:
        try:
            tasks = client.get(f"/v2/images/{image_id}/tasks").json()["tasks"]
        except requests.ConnectionError:  # a kept-alive connection to a worker we killed
            continue
        if tasks and tasks[0]["status"] in ("success", "failure"):
            return tasks[0]
        time.sleep(0.1)
    raise AssertionError(f"import of {image_id} did not finish: {tasks}")
