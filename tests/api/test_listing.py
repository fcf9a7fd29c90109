import time
import uuid

import pytest

pytestmark = pytest.mark.keystone_mode


@pytest.fixture
def tag():
    return f"t-{uuid.uuid4().hex[:8]}"


def names(response):
    assert response.status_code == 200, response.text
    return [image["name"] for image in response.json()["images"]]


def test_default_sort_is_created_at_desc(alice, tag):
    for name in ("first", "second", "third"):
        alice.create_image(name=name, tags=[tag])
        time.sleep(0.01)
    assert names(alice.get("/v2/images", params={"tag": tag})) == ["third", "second", "first"]


def test_filters_on_core_fields(alice, tag):
    alice.create_image(name="a", tags=[tag], disk_format="qcow2", container_format="bare")
    alice.create_image(name="b", tags=[tag], disk_format="raw", container_format="ovf",
                       protected=True, hw_machine_type="q35")
    alice.create_image(name="c", tags=[tag], disk_format="iso")
    q = {"tag": tag, "sort": "name:asc"}
    assert names(alice.get("/v2/images", params={**q, "disk_format": "qcow2"})) == ["a"]
    assert names(alice.get("/v2/images", params={**q, "container_format": "ovf"})) == ["b"]
    assert names(alice.get("/v2/images", params={**q, "protected": "true"})) == ["b"]
    assert names(alice.get("/v2/images", params={**q, "protected": "false"})) == ["a", "c"]
    assert names(alice.get("/v2/images", params={**q, "name": "c"})) == ["c"]
    assert names(alice.get("/v2/images", params={**q, "name": 'in:"a","c"'})) == ["a", "c"]
    assert names(alice.get("/v2/images", params={**q, "disk_format": "in:iso,raw"})) == ["b", "c"]
    assert names(alice.get("/v2/images", params={**q, "hw_machine_type": "q35"})) == ["b"]
    assert names(alice.get("/v2/images", params={**q, "status": "queued"})) == ["a", "b", "c"]
    assert names(alice.get("/v2/images", params={**q, "status": "active"})) == []


def test_id_in_filter(alice, tag):
    ids = [alice.create_image(name=n, tags=[tag])["id"] for n in ("x", "y", "z")]
    response = alice.get("/v2/images", params={"id": f"in:{ids[0]},{ids[2]}", "sort": "name:asc"})
    assert names(response) == ["x", "z"]


def test_tags_are_anded(alice, tag):
    other = tag + "-other"
    alice.create_image(name="both", tags=[tag, other])
    alice.create_image(name="one", tags=[tag])
    assert names(alice.get("/v2/images", params=[("tag", tag), ("tag", other)])) == ["both"]


def test_size_filters(alice, tag):
    for name, size in (("small", 10), ("medium", 100), ("large", 1000)):
        image = alice.create_image(name=name, tags=[tag])
        assert alice.upload(image["id"], b"x" * size).status_code == 204
    q = {"tag": tag, "sort": "size:asc"}
    assert names(alice.get("/v2/images", params={**q, "size_min": 100})) == ["medium", "large"]
    assert names(alice.get("/v2/images", params={**q, "size_max": 100})) == ["small", "medium"]
    assert names(alice.get("/v2/images", params={**q, "size_min": 11, "size_max": 999})) == ["medium"]
    assert alice.get("/v2/images", params={"size_min": "big"}).status_code == 400


def test_time_operators(alice, tag):
    old = alice.create_image(name="old", tags=[tag])
    time.sleep(1.1)
    new = alice.create_image(name="new", tags=[tag])
    q = {"tag": tag, "sort": "name:asc"}
    assert names(alice.get("/v2/images", params={**q, "created_at": f"gte:{new['created_at']}"})) == ["new"]
    assert names(alice.get("/v2/images", params={**q, "created_at": f"lt:{new['created_at']}"})) == ["old"]
    assert names(alice.get("/v2/images", params={**q, "updated_at": f"lte:{old['updated_at']}"})) == []  \
        or old["updated_at"] != new["updated_at"]
    assert alice.get("/v2/images", params={"created_at": "gt:yesterday"}).status_code == 400


def test_hidden_images_only_when_asked(alice, tag):
    alice.create_image(name="shown", tags=[tag])
    alice.create_image(name="hidden", tags=[tag], os_hidden=True)
    assert names(alice.get("/v2/images", params={"tag": tag})) == ["shown"]
    assert names(alice.get("/v2/images", params={"tag": tag, "os_hidden": "true"})) == ["hidden"]


def test_pagination_with_limit_marker_and_next(alice, tag):
    created = [alice.create_image(name=f"p{i:02d}", tags=[tag])["name"] for i in range(7)]
    seen, path, pages = [], f"/v2/images?tag={tag}&limit=3&sort_key=name&sort_dir=asc", 0
    while path:
        body = alice.get(path).json()
        seen += [i["name"] for i in body["images"]]
        path = body.get("next")
        pages += 1
        assert body["first"].startswith("/v2/images?") and "marker" not in body["first"]
    assert seen == created
    assert pages == 3


def test_pagination_with_equal_sort_values_never_repeats(alice, tag):
    for _ in range(5):
        alice.create_image(name="same", tags=[tag])
    seen, path = [], f"/v2/images?tag={tag}&limit=2&sort=name:asc"
    while path:
        body = alice.get(path).json()
        seen += [i["id"] for i in body["images"]]
        path = body.get("next")
    assert len(seen) == 5 and len(set(seen)) == 5


def test_pagination_over_null_sizes(alice, tag):
    for i in range(4):
        image = alice.create_image(name=f"n{i}", tags=[tag])
        if i % 2:
            alice.upload(image["id"], b"x" * i)
    for direction in ("asc", "desc"):
        seen, path = [], f"/v2/images?tag={tag}&limit=1&sort=size:{direction}"
        while path:
            body = alice.get(path).json()
            seen += [i["name"] for i in body["images"]]
            path = body.get("next")
        assert sorted(seen) == ["n0", "n1", "n2", "n3"], direction
        assert seen[:2 if direction == "asc" else 0] in (["n0", "n2"], ["n2", "n0"], [])


def test_multiple_sort_keys(alice, tag):
    alice.create_image(name="b", tags=[tag], disk_format="raw")
    alice.create_image(name="a", tags=[tag], disk_format="raw")
    alice.create_image(name="c", tags=[tag], disk_format="iso")
    response = alice.get("/v2/images", params={"tag": tag, "sort": "disk_format:asc,name:desc"})
    assert names(response) == ["c", "b", "a"]
    response = alice.get("/v2/images", params=[("tag", tag), ("sort_key", "disk_format"),
                                                ("sort_key", "name"), ("sort_dir", "desc"),
                                                ("sort_dir", "asc")])
    assert names(response) == ["a", "b", "c"]


def test_limits(alice, api, tag):
    for i in range(3):
        alice.create_image(tags=[tag])
    assert len(alice.get("/v2/images", params={"tag": tag, "limit": 0}).json()["images"]) == 0
    default = alice.get("/v2/images").json()
    assert len(default["images"]) <= 25
    assert alice.get("/v2/images", params={"limit": -1}).status_code == 400
    assert alice.get("/v2/images", params={"limit": "ten"}).status_code == 400
    body = alice.get("/v2/images", params={"limit": 5000}).json()
    assert len(body["images"]) <= 1000


@pytest.mark.parametrize("params, fragment", [
    ({"sort_key": "owner"}, "Invalid sort key"),
    ({"sort": "name:sideways"}, "Invalid sort direction"),
    ({"sort": "name", "sort_key": "name"}, "cannot be combined"),
    ({"marker": "00000000-0000-0000-0000-000000000000"}, "marker"),
    ({"visibility": "everyone"}, "Invalid visibility"),
    ({"member_status": "maybe"}, "Invalid status"),
    ({"protected": "yes"}, "protected"),
    ({"changes-since": "2020-01-01"}, "changes-since"),
])
def test_bad_list_parameters_are_400(alice, params, fragment):
    response = alice.get("/v2/images", params=params)
    assert response.status_code == 400
    assert fragment in response.json()["message"]


def test_marker_of_invisible_image_is_400(alice, bob):
    private = alice.create_image(visibility="private")
    assert bob.get("/v2/images", params={"marker": private["id"]}).status_code == 400


def test_visibility_in_lists(admin, alice, bob, tag):
    mine_private = alice.create_image(name="alice-private", tags=[tag], visibility="private")
    alice.create_image(name="alice-community", tags=[tag], visibility="community")
    admin.create_image(name="public", tags=[tag], visibility="public")
    bob.create_image(name="bob-private", tags=[tag], visibility="private")
    q = {"tag": tag, "sort": "name:asc"}
    assert names(alice.get("/v2/images", params=q)) == ["alice-community", "alice-private", "public"]
    assert names(bob.get("/v2/images", params=q)) == ["bob-private", "public"]
    assert names(bob.get("/v2/images", params={**q, "visibility": "community"})) == ["alice-community"]
    assert names(bob.get("/v2/images", params={**q, "visibility": "private"})) == ["bob-private"]
    assert names(bob.get("/v2/images", params={**q, "visibility": "all"})) == \
        ["alice-community", "bob-private", "public"]
    assert "alice-private" in names(admin.get("/v2/images", params=q))
    assert mine_private["id"] not in [i["id"] for i in bob.get("/v2/images", params=q).json()["images"]]


def test_each_walk_in_creation_order_lists_every_visible_image_once(admin, alice, bob, tag):
    """A page in creation order is read from several index walks (own, public, shared
    with the caller; or a tag's or a property's rows) merged: two images a page, each
    request lists exactly the images it should, newest first, each once."""
    me, other = alice, bob
    made = []  # labels in creation order
    ids = {}

    def make(client, label, tags=(), **fields):
        image = client.create_image(name=f"{tag}-{label}", tags=[tag, *tags], **fields)
        ids[label] = image["id"]
        made.append(label)
        return image

    make(me, "own-private", visibility="private", tags=[f"{tag}-x"])
    make(admin, "public", visibility="public", os_distro=f"{tag}-d")
    make(me, "own-shared", visibility="shared", os_distro=f"{tag}-d")
    make(other, "private", visibility="private")
    for status in ("pending", "accepted", "rejected"):
        image = make(other, f"shared-{status}", visibility="shared", os_distro=f"{tag}-d",
                     tags=[f"{tag}-x"])
        assert other.post(f"/v2/images/{image['id']}/members",
                          json={"member": me.project}).status_code == 200
        if status != "pending":
            assert me.put(f"/v2/images/{image['id']}/members/{me.project}",
                          json={"status": status}).status_code == 200
    make(other, "community", visibility="community")
    make(other, "shared-not-with-me", visibility="shared", os_distro=f"{tag}-d")
    make(me, "own-community", visibility="community", tags=[f"{tag}-x"])
    own = ["own-private", "own-shared", "own-community"]
    names_in = "in:" + ",".join(f"{tag}-{label}" for label in made)
    expected = {
        (): own + ["public", "shared-accepted"],
        (("visibility", "all"),): own + ["public", "community", "shared-accepted"],
        (("visibility", "shared"),): ["own-shared", "shared-accepted"],
        (("visibility", "shared"), ("member_status", "all")):
            ["own-shared", "shared-pending", "shared-accepted", "shared-rejected"],
        (("member_status", "pending"),): own + ["public", "shared-pending"],
        (("tag", f"{tag}-x"),): ["own-private", "shared-accepted", "own-community"],
        (("tag", f"{tag}-x"), ("member_status", "all")):
            ["own-private", "shared-pending", "shared-accepted", "shared-rejected",
             "own-community"],
        (("os_distro", f"{tag}-d"),): ["public", "own-shared", "shared-accepted"],
        (("os_distro", f"{tag}-d"), ("tag", f"{tag}-x")): ["shared-accepted"],
    }
    for query, labels in expected.items():
        newest_first = [label for label in reversed(made) if label in labels]
        for order, wanted in (({}, newest_first), ({"sort": "created_at:asc"},
                                                   newest_first[::-1])):
            params = {"name": names_in, "limit": 2, **dict(query), **order}
            seen = []
            page = me.get("/v2/images", params=params).json()
            while True:
                seen += [image["name"].removeprefix(f"{tag}-") for image in page["images"]]
                if "next" not in page:
                    break
                assert len(page["images"]) == 2, (query, order, page)
                page = me.get(page["next"]).json()
            assert seen == wanted, (query, order)
