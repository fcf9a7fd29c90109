"""Generated input against every write and list endpoint: never a 5xx."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import ADMIN, Client

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=20), children, max_size=4),
    max_leaves=12)
FIELDS = st.sampled_from(["name", "visibility", "min_ram", "min_disk", "tags", "owner",
                          "disk_format", "container_format", "protected", "os_hidden", "id",
                          "extra_property", "os_glance_x", "status", "locations"])
IMAGE_BODY = st.dictionaries(FIELDS | st.text(max_size=30), JSON, max_size=6)
PATCH = st.lists(st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "replace", "remove", "move", ""]),
     "path": st.sampled_from(["/name", "/tags", "/locations/-", "/min_ram", "/x"]) | st.text(),
     "value": JSON}), max_size=4)
QUERY = st.dictionaries(
    st.sampled_from(["name", "limit", "marker", "sort", "sort_key", "sort_dir", "size_min",
                     "size_max", "created_at", "updated_at", "visibility", "tag", "status",
                     "member_status", "os_hidden"]) | st.text(max_size=10),
    st.text(max_size=40), max_size=4)
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def sent(response):
    assert response.status_code < 500, (response.status_code, response.text[:300])


@SETTINGS
@given(body=IMAGE_BODY)
def test_create(api, body):
    sent(Client(api.url, ADMIN).post("/v2/images", data=json.dumps(body),
                                     headers={"Content-Type": "application/json"}))


@SETTINGS
@given(ops=PATCH)
def test_patch(api, ops):
    client = Client(api.url, ADMIN)
    image = client.create_image()
    sent(client.patch(f"/v2/images/{image['id']}", ops))


@SETTINGS
@given(query=QUERY)
def test_list(api, query):
    sent(Client(api.url, ADMIN).get("/v2/images", params=query))


@SETTINGS
@given(body=JSON, member=st.text(max_size=300))
def test_members_and_tags(api, body, member):
    client = Client(api.url, ADMIN)
    image = client.create_image(visibility="shared")
    sent(client.post(f"/v2/images/{image['id']}/members", data=json.dumps(body),
                     headers={"Content-Type": "application/json"}))
    sent(client.put(f"/v2/images/{image['id']}/members/{member or 'x'}",
                    data=json.dumps(body), headers={"Content-Type": "application/json"}))
    sent(client.put(f"/v2/images/{image['id']}/tags/{member or 'x'}"))


@SETTINGS
@given(body=JSON)
def test_import_and_locations(api, body):
    client = Client(api.url, ADMIN)
    image = client.create_image()
    for path in ("import", "locations"):
        sent(client.post(f"/v2/images/{image['id']}/{path}", data=json.dumps(body),
                         headers={"Content-Type": "application/json"}))
