#!/usr/bin/python
"""Ansible module: the image service in a Keystone, found or created, as Glance's install
guide sets it up (user and project, role grants, the service and its endpoints)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: glance_keystone_register
short_description: Register Glance's service user, service and endpoints in Keystone
description:
  - Finds or creates, through the Identity v3 API, the service project, the service user
    (with its password), its admin and service roles on that project (and the system
    reader role that oslo.limit needs), the image service and its public, internal and
    admin endpoints in one region. Changes only what differs.
options:
  auth_url: {description: Keystone's URL (without /v3)., type: str, required: true}
  admin_username: {description: A Keystone admin., type: str, default: admin}
  admin_password: {description: Its password., type: str, required: true, no_log: true}
  admin_project: {description: The admin's project., type: str, default: admin}
  domain: {description: Domain of the users and projects., type: str, default: Default}
  service_username: {description: The image service's user., type: str, default: glance}
  service_password: {description: Its password., type: str, required: true, no_log: true}
  service_project: {description: The services' project., type: str, default: service}
  service_name: {description: Name of the image service in the catalog., type: str, default: glance}
  region: {description: Region of the endpoints., type: str, default: RegionOne}
  public_url: {description: The public image endpoint., type: str, required: true}
  internal_url: {description: "The internal endpoint (default: public_url).", type: str}
  admin_url: {description: "The admin endpoint (default: public_url).", type: str}
"""

RETURN = r"""
public_endpoint_id: {description: "The public endpoint's id ([oslo_limit] endpoint_id).", type: str, returned: success}
"""

import json
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url


NEW = "(to be made)"  # the id of what check mode would create


class Keystone:
    def __init__(self, module: AnsibleModule):
        self.module = module
        self.url = module.params["auth_url"].rstrip("/") + "/v3"
        self.changed = False
        self.token = self.login(module.params["admin_username"], module.params["admin_password"],
                                module.params["admin_project"])
        if self.token is None:
            module.fail_json(msg=f"Keystone at {self.url} refused the admin's credentials")

    def call(self, method: str, path: str, body=None, token=None):
        headers = {"Content-Type": "application/json", "X-Auth-Token": token or self.token}
        try:
            response = open_url(self.url + path, method=method, headers=headers, timeout=30,
                                data=json.dumps(body) if body is not None else None)
            text = response.read()
            return response.status, (json.loads(text) if text else {}), response.headers
        except HTTPError as exc:
            return exc.code, {}, exc.headers
        except URLError as exc:
            self.module.fail_json(msg=f"Keystone at {self.url} is unreachable: {exc.reason}; "
                                      "is it running, and is auth_url right?")

    def login(self, user: str, password: str, project: str):
        domain = {"name": self.module.params["domain"]}
        status, _, headers = self.call("POST", "/auth/tokens", token="-", body={"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": domain, "password": password}}},
            "scope": {"project": {"name": project, "domain": domain}}}})
        return headers.get("X-Subject-Token") if status == 201 else None

    def expect(self, wanted, status: int, what: str):
        if status not in wanted:
            self.module.fail_json(msg=f"Keystone answered {status} to {what}")

    def find(self, plural: str, **query):
        if NEW in query.values():  # check mode: nothing can belong to what is not made yet
            return None
        path = f"/{plural}?{urlencode(query)}"
        status, body, _ = self.call("GET", path)
        self.expect((200,), status, f"GET {path}")
        return body[plural][0] if body[plural] else None

    def ensure(self, kind: str, query: dict, body: dict) -> dict:
        found = self.find(kind + "s", **query)
        if found is not None:
            return found
        self.changed = True
        if self.module.check_mode:
            return {"id": NEW, **body}
        status, created, _ = self.call("POST", f"/{kind}s", {kind: body})
        self.expect((201,), status, f"creating {kind} {body.get('name', '')}")
        return created[kind]

    def grant(self, path: str) -> None:
        if NEW in path:  # check mode, of a project or user still to be made: surely new
            self.changed = True
            return
        status, _, _ = self.call("HEAD", path)
        if status == 204:
            return
        self.changed = True
        if not self.module.check_mode:
            status, _, _ = self.call("PUT", path)
            self.expect((201, 204), status, f"PUT {path}")


def main() -> None:
    module = AnsibleModule(argument_spec=dict(
        auth_url=dict(type="str", required=True),
        admin_username=dict(type="str", default="admin"),
        admin_password=dict(type="str", required=True, no_log=True),
        admin_project=dict(type="str", default="admin"),
        domain=dict(type="str", default="Default"),
        service_username=dict(type="str", default="glance"),
        service_password=dict(type="str", required=True, no_log=True),
        service_project=dict(type="str", default="service"),
        service_name=dict(type="str", default="glance"),
        region=dict(type="str", default="RegionOne"),
        public_url=dict(type="str", required=True),
        internal_url=dict(type="str"),
        admin_url=dict(type="str"),
    ), supports_check_mode=True)
    p = module.params
    keystone = Keystone(module)
    domain = keystone.find("domains", name=p["domain"])
    if domain is None:
        module.fail_json(msg=f"Keystone has no domain {p['domain']}")
    project = keystone.ensure("project", {"name": p["service_project"], "domain_id": domain["id"]},
                              {"name": p["service_project"], "domain_id": domain["id"],
                               "description": "Service users"})
    user = keystone.ensure("user", {"name": p["service_username"], "domain_id": domain["id"]},
                           {"name": p["service_username"], "domain_id": domain["id"],
                            "password": p["service_password"],
                            "default_project_id": project["id"], "enabled": True})
    roles = {name: keystone.ensure("role", {"name": name}, {"name": name})
             for name in ("admin", "service", "reader")}
    for role in ("admin", "service"):
        keystone.grant(f"/projects/{project['id']}/users/{user['id']}/roles/{roles[role]['id']}")
    # oslo.limit reads every project's limits with a system-scoped token
    keystone.grant(f"/system/users/{user['id']}/roles/{roles['reader']['id']}")
    if not module.check_mode and keystone.login(p["service_username"], p["service_password"],
                                                p["service_project"]) is None:
        keystone.changed = True  # an existing user with another password: it gets this one
        status, _, _ = keystone.call("PATCH", f"/users/{user['id']}",
                                     {"user": {"password": p["service_password"]}})
        keystone.expect((200,), status, f"setting the password of {p['service_username']}")
    status, _, _ = keystone.call("GET", f"/regions/{quote(p['region'])}")
    if status == 404:
        keystone.changed = True
        if not module.check_mode:
            status, _, _ = keystone.call("POST", "/regions", {"region": {"id": p["region"]}})
            keystone.expect((201,), status, f"creating region {p['region']}")
    service = keystone.ensure("service", {"type": "image"},
                              {"type": "image", "name": p["service_name"], "enabled": True})
    public_id = None
    for interface in ("public", "internal", "admin"):
        url = p[f"{interface}_url"] or p["public_url"]
        endpoint = keystone.ensure("endpoint", {"service_id": service["id"], "interface": interface,
                                                "region_id": p["region"]},
                                   {"service_id": service["id"], "interface": interface,
                                    "region_id": p["region"], "url": url, "enabled": True})
        if endpoint.get("url") != url:
            keystone.changed = True
            if not module.check_mode:
                status, _, _ = keystone.call("PATCH", f"/endpoints/{endpoint['id']}",
                                             {"endpoint": {"url": url}})
                keystone.expect((200,), status, f"moving the {interface} endpoint to {url}")
        if interface == "public":
            public_id = endpoint["id"]
    module.exit_json(changed=keystone.changed, public_endpoint_id=public_id)


if __name__ == "__main__":
    main()
