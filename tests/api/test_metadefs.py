"""Metadata definitions: the shipped namespaces and the CRUD API around them."""

import subprocess
import uuid

import pytest

from harness import GLANCELAB
from helpers import as_admin

pytestmark = pytest.mark.keystone_mode

SHIPPED = {"OS::Compute::Hypervisor", "OS::Compute::Libvirt", "OS::Compute::CPUPinning",
           "OS::Compute::Watchdog", "OS::Glance::CommonImageProperties", "OS::Software::DBMS"}


def load_metadefs(api, *args):
    return subprocess.run([GLANCELAB, "--config", api.config_path, "db", "load-metadefs", *args],
                          capture_output=True, text=True, cwd=api.workdir, timeout=60)


@pytest.fixture
def loaded(api):
    result = load_metadefs(api)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_shipped_namespaces_load_once_and_are_listed(api, loaded, alice):
    again = load_metadefs(api)
    assert again.returncode == 0 and "kept" in again.stdout  # a second load changes nothing
    listed = alice.get("/v2/metadefs/namespaces", params={"limit": 100}).json()
    assert SHIPPED <= {ns["namespace"] for ns in listed["namespaces"]}
    by_type = alice.get("/v2/metadefs/namespaces",
                        params={"resource_types": "OS::Nova::Flavor"}).json()["namespaces"]
    assert {ns["namespace"] for ns in by_type} >= {"OS::Compute::CPUPinning",
                                                    "OS::Compute::Watchdog"}
    assert "OS::Glance::CommonImageProperties" not in {ns["namespace"] for ns in by_type}
    dbms = alice.get("/v2/metadefs/namespaces/OS::Software::DBMS").json()
    assert [o["name"] for o in dbms["objects"]] == ["MariaDB", "PostgreSQL"]
    assert {t["name"] for t in dbms["tags"]} == {"database", "sql"}
    libvirt = alice.get("/v2/metadefs/namespaces/OS::Compute::Libvirt/properties/disk_bus").json()
    assert libvirt["type"] == "string" and "virtio" in libvirt["enum"]
    types = {t["name"] for t in alice.get("/v2/metadefs/resource_types").json()["resource_types"]}
    assert {"OS::Glance::Image", "OS::Nova::Flavor", "OS::Cinder::Volume"} <= types
    assert admin_cannot_delete_protected(api)


def admin_cannot_delete_protected(api):
    response = as_admin(api).delete("/v2/metadefs/namespaces/OS::Compute::Watchdog")
    return response.status_code == 403 and "protected" in response.json()["message"]


def test_namespace_lifecycle(admin, alice, bob):
    name = f"Lab::Test::{uuid.uuid4().hex[:6]}"
    body = {"namespace": name, "display_name": "Lab test", "visibility": "private",
            "owner": alice.project,
            "properties": {"lab_size": {"title": "Size", "type": "integer", "minimum": 1}},
            "objects": [{"name": "Disk", "properties": {"bus": {"title": "Bus", "type": "string"}}}],
            "tags": [{"name": "one"}],
            "resource_type_associations": [{"name": "OS::Glance::Image", "prefix": "lab_"}]}
    response = admin.post("/v2/metadefs/namespaces", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["properties"]["lab_size"]["minimum"] == 1
    assert created["resource_type_associations"][0]["prefix"] == "lab_"
    assert admin.post("/v2/metadefs/namespaces", json=body).status_code == 409
    # Private: the owner project sees it, another does not.
    assert alice.get(f"/v2/metadefs/namespaces/{name}").status_code == 200
    assert bob.get(f"/v2/metadefs/namespaces/{name}").status_code == 404
    # Only admins write.
    assert alice.post(f"/v2/metadefs/namespaces/{name}/tags/two").status_code == 403
    base = f"/v2/metadefs/namespaces/{name}"
    assert admin.post(f"{base}/tags/two").status_code == 201
    assert admin.post(f"{base}/tags/two").status_code == 409
    replaced = admin.post(f"{base}/tags", json={"tags": [{"name": "a"}, {"name": "b"}]})
    assert replaced.status_code == 201
    assert [t["name"] for t in admin.get(f"{base}/tags").json()["tags"]] == ["a", "b"]
    appended = admin.post(f"{base}/tags", json={"tags": [{"name": "c"}]},
                          headers={"X-Openstack-Append": "true"})
    assert appended.status_code == 201
    assert [t["name"] for t in admin.get(f"{base}/tags").json()["tags"]] == ["a", "b", "c"]
    assert admin.put(f"{base}/tags/c", json={"name": "d"}).json()["name"] == "d"
    prop = {"name": "lab_speed", "title": "Speed", "type": "string", "enum": ["slow", "fast"]}
    assert admin.post(f"{base}/properties", json=prop).status_code == 201
    prop["title"] = "Speed!"
    assert admin.put(f"{base}/properties/lab_speed", json=prop).json()["title"] == "Speed!"
    assert set(admin.get(f"{base}/properties").json()["properties"]) == {"lab_size", "lab_speed"}
    obj = {"name": "Nic", "required": ["model"],
           "properties": {"model": {"title": "Model", "type": "string"}}}
    assert admin.post(f"{base}/objects", json=obj).status_code == 201
    assert admin.get(f"{base}/objects/Nic").json()["required"] == ["model"]
    assert admin.delete(f"{base}/objects/Nic").status_code == 204
    assert admin.get(f"{base}/objects/Nic").status_code == 404
    assert admin.post(f"{base}/resource_types", json={"name": "OS::Nova::Flavor"}).status_code == 201
    names = [a["name"] for a in admin.get(f"{base}/resource_types").json()["resource_type_associations"]]
    assert names == ["OS::Glance::Image", "OS::Nova::Flavor"]
    assert admin.delete(f"{base}/resource_types/OS::Nova::Flavor").status_code == 204
    renamed = dict(created, namespace=f"{name}2", protected=True)
    for key in ("properties", "objects", "tags", "resource_type_associations"):
        renamed.pop(key)
    response = admin.put(base, json=renamed)
    assert response.status_code == 200, response.text
    assert admin.get(base).status_code == 404
    assert admin.delete(f"{base}2").status_code == 403  # protected now
    renamed["protected"] = False
    assert admin.put(f"{base}2", json=renamed).status_code == 200
    assert admin.delete(f"{base}2").status_code == 204
    assert admin.get(f"{base}2/properties").status_code == 404


@pytest.mark.parametrize("body, words", [
    ({"display_name": "no name"}, "'namespace' is a required property"),
    ({"namespace": "x", "visibility": "everyone"}, "visibility"),
    ({"namespace": "x", "properties": {"p": {"type": "string"}}}, "'title' is a required"),
    ({"namespace": "x", "properties": {"p": {"title": "P", "type": "text"}}}, "type"),
    ({"namespace": "x", "unknown": 1}, "Additional properties"),
])
def test_bad_namespaces_are_400(admin, body, words):
    response = admin.post("/v2/metadefs/namespaces", json=body)
    assert response.status_code == 400, response.text
    assert words in response.json()["message"]


def test_metadef_schemas_are_published(alice):
    for name in ("namespace", "namespaces", "object", "objects", "property", "properties",
                 "tag", "tags", "resource_type", "resource_types"):
        response = alice.get(f"/v2/schemas/metadefs/{name}")
        assert response.status_code == 200 and response.json()["name"] == name
    assert alice.get("/v2/schemas/metadefs/nope").status_code == 404


def test_load_metadefs_reports_a_bad_file(api, tmp_path):
    (tmp_path / "bad.json").write_text('{"namespace": "Bad", "visibility": "nobody"}')
    result = load_metadefs(api, "--path", str(tmp_path))
    assert result.returncode == 1 and "bad.json" in result.stderr
    assert as_admin(api).get("/v2/metadefs/namespaces/Bad").status_code == 404


def test_glance_cli_lists_metadef_namespaces(api, loaded, alice):
    import os
    import sys
    glance = os.path.join(os.path.dirname(sys.executable), "glance")
    token = alice.session.headers.get("X-Auth-Token", "x")  # noauth takes any
    result = subprocess.run([glance, "--os-image-url", api.url, "--os-auth-token", token,
                             "md-namespace-list"], capture_output=True, text=True, timeout=120,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert "OS::Software::DBMS" in result.stdout
    result = subprocess.run([glance, "--os-image-url", api.url, "--os-auth-token", token,
                             "md-property-show", "OS::Compute::Libvirt", "disk_bus"],
                            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert "virtio" in result.stdout
