import uuid

import pytest

from helpers import as_member

pytestmark = pytest.mark.keystone_mode


def ids(response):
    assert response.status_code == 200, response.text
    return [image["id"] for image in response.json()["images"]]


def test_sharing_lifecycle(alice, bob):
    tag = uuid.uuid4().hex
    image = alice.create_image(visibility="shared", tags=[tag])
    members = f"/v2/images/{image['id']}/members"
    assert bob.get(f"/v2/images/{image['id']}").status_code == 404

    response = alice.post(members, json={"member": bob.project})
    assert response.status_code == 200
    member = response.json()
    assert member["status"] == "pending" and member["member_id"] == bob.project
    assert member["image_id"] == image["id"] and member["schema"] == "/v2/schemas/member"
    assert alice.post(members, json={"member": bob.project}).status_code == 409

    # pending: reachable directly, listed only with member_status=pending
    assert bob.get(f"/v2/images/{image['id']}").status_code == 200
    assert image["id"] not in ids(bob.get("/v2/images", params={"tag": tag}))
    assert image["id"] in ids(bob.get("/v2/images", params={"tag": tag, "member_status": "pending"}))

    # only the member accepts, not the owner
    assert alice.put(f"{members}/{bob.project}", json={"status": "accepted"}).status_code == 403
    response = bob.put(f"{members}/{bob.project}", json={"status": "accepted"})
    assert response.status_code == 200 and response.json()["status"] == "accepted"
    assert image["id"] in ids(bob.get("/v2/images", params={"tag": tag}))

    response = bob.put(f"{members}/{bob.project}", json={"status": "rejected"})
    assert response.json()["status"] == "rejected"
    assert image["id"] not in ids(bob.get("/v2/images", params={"tag": tag}))
    assert image["id"] in ids(bob.get("/v2/images", params={"tag": tag, "member_status": "all"}))
    assert bob.get(f"/v2/images/{image['id']}").status_code == 200

    listing = alice.get(members).json()
    assert listing["schema"] == "/v2/schemas/members"
    assert [m["member_id"] for m in listing["members"]] == [bob.project]
    assert alice.get(f"{members}/{bob.project}").json()["status"] == "rejected"

    # the member cannot modify the image or its members
    assert bob.patch(f"/v2/images/{image['id']}",
                     [{"op": "replace", "path": "/name", "value": "x"}]).status_code == 403
    assert bob.post(members, json={"member": "project-carol"}).status_code == 403

    assert alice.delete(f"{members}/{bob.project}").status_code == 204
    assert alice.delete(f"{members}/{bob.project}").status_code == 404
    assert bob.get(f"/v2/images/{image['id']}").status_code == 404


def test_members_only_for_shared_images(alice, bob):
    image = alice.create_image(visibility="private")
    response = alice.post(f"/v2/images/{image['id']}/members", json={"member": bob.project})
    assert response.status_code == 403
    assert "shared" in response.json()["message"]


def test_a_private_image_has_no_member_list(alice):
    image = alice.create_image(visibility="private")
    response = alice.get(f"/v2/images/{image['id']}/members")
    assert response.status_code == 403
    assert "only shared images have members" in response.json()["message"]
    shared = alice.create_image(visibility="shared")
    assert alice.get(f"/v2/images/{shared['id']}/members").json() == {
        "members": [], "schema": "/v2/schemas/members"}


def test_member_body_validation(alice, bob):
    image = alice.create_image()
    members = f"/v2/images/{image['id']}/members"
    assert alice.post(members, json={}).status_code == 400
    assert alice.post(members, json={"member": 5}).status_code == 400
    # Glance reads only "member" (openstacksdk sends more): the rest is ignored
    added = alice.post(members, json={"member": "p", "extra": 1})
    assert added.status_code == 200 and added.json()["member_id"] == "p"
    alice.post(members, json={"member": bob.project})
    assert alice.put(f"{members}/{bob.project}", json={"status": "maybe"}).status_code == 400


def test_member_sees_only_its_own_membership(alice, bob, api):
    carol = as_member(api, "project-carol")
    image = alice.create_image()
    members = f"/v2/images/{image['id']}/members"
    alice.post(members, json={"member": bob.project})
    alice.post(members, json={"member": carol.project})
    assert [m["member_id"] for m in bob.get(members).json()["members"]] == [bob.project]
    assert [m["member_id"] for m in carol.get(members).json()["members"]] == [carol.project]
    assert bob.get(f"{members}/{carol.project}").status_code == 404
