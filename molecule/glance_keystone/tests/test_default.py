"""What glance_keystone leaves in Keystone, and an API that validates tokens with it."""

import json
import os
import urllib.request

KEYSTONE = os.environ.get("GLANCELAB_KEYSTONE_URL", "")


def keystone(method: str, path: str, body=None, token: str | None = None):
    request = urllib.request.Request(f"{KEYSTONE}/v3{path}", method=method,
                                     data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json",
                                              **({"X-Auth-Token": token} if token else {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.headers, json.loads(response.read() or b"{}")


def login(user: str, password: str, project: str):
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"name": "Default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}}
    headers, answer = keystone("POST", "/auth/tokens", body)
    return headers["X-Subject-Token"], answer["token"]


def test_the_service_user_logs_in_to_its_project_with_admin_and_service(host):
    _, token = login("glance-mol", "mol-secret", "service-mol")
    assert {role["name"] for role in token["roles"]} >= {"admin", "service"}


def test_the_catalog_has_the_image_endpoints_of_this_host(host):
    _, token = login("glance-mol", "mol-secret", "service-mol")
    address = host.ansible.get_variables()["ansible_host"]
    image = [entry for entry in token["catalog"] if entry["type"] == "image"]
    assert len(image) == 1
    here = {(e["interface"], e["url"]) for e in image[0]["endpoints"] if e["region_id"] == "MolRegion"}
    assert here == {(interface, f"http://{address}:9292") for interface in ("public", "internal", "admin")}


def test_the_api_checks_tokens_with_the_registered_user(host):
    address = host.ansible.get_variables()["ansible_host"]
    conf = host.file("/etc/glance/glance-api.conf")
    assert conf.contains("^username = glance-mol$") and conf.mode == 0o640
    anonymous = host.run(f"curl -s -o /dev/null -w '%{{http_code}}' http://{address}:9292/v2/images")
    assert anonymous.stdout == "401"
    demo, _ = login("demo", "demo", "demo")
    created = host.run(f"curl -s -X POST -H 'X-Auth-Token: {demo}' -H 'Content-Type: "
                       f"application/json' -d '{{\"name\": \"mol\"}}' http://{address}:9292/v2/images")
    assert created.rc == 0 and '"owner"' in created.stdout, created.stdout
    assert json.loads(created.stdout)["owner"] != "service-mol"
