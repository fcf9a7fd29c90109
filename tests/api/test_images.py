import uuid

import pytest

pytestmark = pytest.mark.keystone_mode


def test_create_has_glance_defaults_and_location_header(alice):
    response = alice.post("/v2/images", json={"name": "cirros", "disk_format": "qcow2",
                                               "container_format": "bare", "os_distro": "cirros"})
    assert response.status_code == 201
    image = response.json()
    assert response.headers["Location"].endswith(f"/v2/images/{image['id']}")
    assert image["status"] == "queued"
    assert image["visibility"] == "shared"
    assert image["protected"] is False and image["os_hidden"] is False
    assert image["owner"] == alice.project
    assert image["size"] is None and image["checksum"] is None
    assert image["min_ram"] == 0 and image["min_disk"] == 0
    assert image["os_distro"] == "cirros"
    assert image["tags"] == []
    assert image["self"] == f"/v2/images/{image['id']}"
    assert image["file"] == f"/v2/images/{image['id']}/file"
    assert image["schema"] == "/v2/schemas/image"
    assert image["created_at"].endswith("Z")
    uuid.UUID(image["id"])


def test_create_with_explicit_id_and_duplicate_conflicts(alice):
    image_id = str(uuid.uuid4())
    assert alice.create_image(id=image_id)["id"] == image_id
    response = alice.post("/v2/images", json={"id": image_id})
    assert response.status_code == 409
    assert image_id in response.json()["message"]


@pytest.mark.parametrize("field", ["status", "checksum", "size", "created_at", "self", "file",
                                   "os_hash_value", "virtual_size", "stores", "direct_url"])
def test_create_with_read_only_attribute_is_403(alice, field):
    response = alice.post("/v2/images", json={"name": "x", field: "v"})
    assert response.status_code == 403
    assert f"Attribute '{field}' is read-only." == response.json()["message"]


@pytest.mark.parametrize("field", ["deleted", "location", "locations", "os_glance_foo"])
def test_create_with_reserved_attribute_is_403(alice, field):
    response = alice.post("/v2/images", json={field: "v"})
    assert response.status_code == 403
    assert "reserved" in response.json()["message"]


def test_show_and_invisible_private_image_is_404(alice, bob):
    image = alice.create_image(visibility="private")
    assert alice.get(f"/v2/images/{image['id']}").json()["id"] == image["id"]
    response = bob.get(f"/v2/images/{image['id']}")
    assert response.status_code == 404
    assert response.json()["message"] == f"No image found with ID {image['id']}"


def test_public_only_by_admin(alice, admin, bob):
    response = alice.post("/v2/images", json={"name": "pub", "visibility": "public"})
    assert response.status_code == 403
    assert "publicize_image" in response.json()["message"]
    image = admin.create_image(visibility="public")
    assert bob.get(f"/v2/images/{image['id']}").status_code == 200
    mine = alice.create_image()
    response = alice.patch(f"/v2/images/{mine['id']}",
                           [{"op": "replace", "path": "/visibility", "value": "public"}])
    assert response.status_code == 403


def test_community_visible_to_all_by_direct_get(alice, bob):
    image = alice.create_image(visibility="community")
    assert bob.get(f"/v2/images/{image['id']}").status_code == 200
    # ...but another project cannot change it.
    response = bob.patch(f"/v2/images/{image['id']}",
                         [{"op": "replace", "path": "/name", "value": "mine"}])
    assert response.status_code == 403


def test_patch_add_replace_remove_core_and_extra(alice):
    image = alice.create_image(name="before", hw_disk_bus="virtio")
    response = alice.patch(f"/v2/images/{image['id']}", [
        {"op": "replace", "path": "/name", "value": "after"},
        {"op": "add", "path": "/os_distro", "value": "debian"},
        {"op": "replace", "path": "/hw_disk_bus", "value": "scsi"},
        {"op": "add", "path": "/min_ram", "value": 512},
        {"op": "replace", "path": "/tags", "value": ["a", "b", "a"]},
        {"op": "add", "path": "/protected", "value": True},
    ])
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["name"] == "after" and updated["os_distro"] == "debian"
    assert updated["hw_disk_bus"] == "scsi" and updated["min_ram"] == 512
    assert updated["tags"] == ["a", "b"] and updated["protected"] is True
    response = alice.patch(f"/v2/images/{image['id']}", [
        {"op": "remove", "path": "/os_distro"},
        {"op": "replace", "path": "/protected", "value": False}])
    assert response.status_code == 200
    assert "os_distro" not in response.json()
    assert "os_distro" not in alice.get(f"/v2/images/{image['id']}").json()


def test_patch_is_atomic(alice):
    image = alice.create_image(name="keep")
    response = alice.patch(f"/v2/images/{image['id']}", [
        {"op": "replace", "path": "/name", "value": "changed"},
        {"op": "replace", "path": "/status", "value": "active"}])
    assert response.status_code == 403
    assert response.json()["message"] == "Attribute 'status' is read-only."
    assert alice.get(f"/v2/images/{image['id']}").json()["name"] == "keep"


def test_patch_errors(alice):
    image = alice.create_image()
    path = f"/v2/images/{image['id']}"
    wrong_type = alice.request("PATCH", path, json=[{"op": "replace", "path": "/name", "value": "x"}])
    assert wrong_type.status_code == 415
    assert "openstack-images-v2.1-json-patch" in wrong_type.json()["message"]
    assert alice.patch(path, [{"op": "remove", "path": "/name"}]).status_code == 403
    assert alice.patch(path, [{"op": "remove", "path": "/nope"}]).status_code == 409
    assert alice.patch(path, [{"op": "replace", "path": "/nope", "value": "x"}]).status_code == 409
    assert alice.patch(path, [{"op": "move", "path": "/name", "from": "/x"}]).status_code == 400
    assert alice.patch(path, [{"op": "add", "path": "/prop", "value": 5}]).status_code == 400
    assert alice.patch(path, [{"op": "replace", "path": "/disk_format", "value": "exe"}]).status_code == 400
    assert alice.patch(path, [{"op": "replace", "path": "/a/b", "value": "x"}]).status_code == 400
    assert alice.patch(path, {"op": "replace"}).status_code == 400


def test_reader_cannot_write(alice, reader):
    image = alice.create_image()
    assert reader.get(f"/v2/images/{image['id']}").status_code == 200
    assert reader.post("/v2/images", json={"name": "r"}).status_code == 403
    response = reader.patch(f"/v2/images/{image['id']}",
                            [{"op": "replace", "path": "/name", "value": "r"}])
    assert response.status_code == 403
    assert reader.delete(f"/v2/images/{image['id']}").status_code == 403


def test_delete_and_protected(alice):
    image = alice.create_image(protected=True)
    response = alice.delete(f"/v2/images/{image['id']}")
    assert response.status_code == 403
    assert "protected" in response.json()["message"]
    alice.patch(f"/v2/images/{image['id']}", [{"op": "replace", "path": "/protected", "value": False}])
    assert alice.delete(f"/v2/images/{image['id']}").status_code == 204
    assert alice.get(f"/v2/images/{image['id']}").status_code == 404
    assert alice.delete(f"/v2/images/{image['id']}").status_code == 404


def test_tags(alice, bob):
    image = alice.create_image()
    path = f"/v2/images/{image['id']}/tags"
    assert alice.put(f"{path}/one").status_code == 204
    assert alice.put(f"{path}/two").status_code == 204
    assert alice.put(f"{path}/one").status_code == 204  # idempotent
    assert alice.get(f"/v2/images/{image['id']}").json()["tags"] == ["one", "two"]
    assert alice.delete(f"{path}/one").status_code == 204
    assert alice.delete(f"{path}/one").status_code == 404
    assert alice.get(f"/v2/images/{image['id']}").json()["tags"] == ["two"]
    assert bob.put(f"{path}/x").status_code == 404
    assert alice.put(f"{path}/{'x' * 256}").status_code == 400


def test_deactivate_and_reactivate_by_the_owners_members(admin, alice, bob):
    """Glance 33's secure-RBAC defaults: the owning project's members and admins."""
    image = alice.create_image()
    assert alice.upload(image["id"], b"data").status_code == 204
    actions = f"/v2/images/{image['id']}/actions"
    assert bob.post(f"{actions}/deactivate").status_code == 404  # bob cannot see it
    assert alice.post(f"{actions}/deactivate").status_code == 204
    assert alice.get(f"/v2/images/{image['id']}").json()["status"] == "deactivated"
    response = alice.get(f"/v2/images/{image['id']}/file")
    assert response.status_code == 403  # only admins download a deactivated image
    assert admin.get(f"/v2/images/{image['id']}/file").content == b"data"
    assert alice.post(f"{actions}/reactivate").status_code == 204
    assert alice.get(f"/v2/images/{image['id']}/file").content == b"data"
    assert admin.post(f"{actions}/deactivate").status_code == 204
    assert admin.post(f"{actions}/reactivate").status_code == 204
    queued = alice.create_image()
    assert admin.post(f"/v2/images/{queued['id']}/actions/deactivate").status_code == 403
    assert admin.post(f"{actions}/explode").status_code == 404


def test_owner_change_needs_admin(alice, bob, admin):
    image = alice.create_image()
    response = alice.patch(f"/v2/images/{image['id']}",
                           [{"op": "replace", "path": "/owner", "value": bob.project}])
    assert response.status_code == 403
    response = admin.patch(f"/v2/images/{image['id']}",
                           [{"op": "replace", "path": "/owner", "value": bob.project}])
    assert response.status_code == 200
    assert response.json()["owner"] == bob.project
    assert alice.get(f"/v2/images/{image['id']}").status_code == 404
