import re

import requests


def test_root_lists_versions_with_300_and_absolute_links(api):
    response = requests.get(api.url + "/")
    assert response.status_code == 300
    versions = response.json()["versions"]
    # Without image_cache_dir, as Glance: 2.17 is CURRENT, the cache's 2.14/2.16/2.18 absent
    # (tests/cache/test_cache.py shows 2.18 with the cache on).
    assert versions[0] == {"id": "v2.17", "status": "CURRENT",
                           "links": [{"rel": "self", "href": f"{api.url}/v2/"}]}
    assert [v["id"] for v in versions][-1] == "v2.0"
    assert len(versions) == 16
    assert all(v["status"] == "SUPPORTED" for v in versions[1:])


def test_versions_path_answers_200(api):
    response = requests.get(api.url + "/versions")
    assert response.status_code == 200
    assert response.json()["versions"][0]["id"] == "v2.17"


def test_healthcheck(api):
    response = requests.get(api.url + "/healthcheck")
    assert response.status_code == 200
    assert response.text == "OK"


def test_every_response_has_a_request_id(api):
    ok = requests.get(api.url + "/v2/images")
    missing = requests.get(api.url + "/v2/images/00000000-0000-0000-0000-000000000000")
    ids = [r.headers["x-openstack-request-id"] for r in (ok, missing)]
    for request_id in ids:
        assert re.fullmatch(r"req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}",
                            request_id)
    assert ids[0] != ids[1]


def test_error_body_is_glance_json_without_html(api):
    response = requests.get(api.url + "/v2/images/00000000-0000-0000-0000-000000000000",
                            headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body == {"code": "404 Not Found", "title": "Not Found",
                    "message": "No image found with ID 00000000-0000-0000-0000-000000000000"}
    assert "<" not in response.text


def test_error_is_plain_text_for_clients_not_asking_for_json(api):
    response = requests.get(api.url + "/v2/images/00000000-0000-0000-0000-000000000000",
                            headers={"Accept": "*/*"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == ("404 Not Found\n\n"
                             "No image found with ID 00000000-0000-0000-0000-000000000000\n")


def test_head_on_file_is_405_with_allow(api, admin):
    image = admin.create_image()
    response = requests.head(f"{api.url}/v2/images/{image['id']}/file")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"] and "PUT" in response.headers["Allow"]


def test_unknown_path_is_404_json(api):
    response = requests.get(api.url + "/v2/nothing-here", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.json()["code"] == "404 Not Found"


def test_schemas_are_json_schema_documents(api):
    image = requests.get(api.url + "/v2/schemas/image").json()
    assert image["name"] == "image"
    assert image["additionalProperties"] == {"type": "string"}
    assert image["properties"]["visibility"]["enum"] == ["community", "public", "private", "shared"]
    assert image["properties"]["status"]["readOnly"] is True
    assert {"rel": "enclosure", "href": "{file}"} in image["links"]
    images = requests.get(api.url + "/v2/schemas/images").json()
    assert images["properties"]["images"]["items"]["name"] == "image"
    member = requests.get(api.url + "/v2/schemas/member").json()
    assert member["properties"]["status"]["enum"] == ["pending", "accepted", "rejected"]
    members = requests.get(api.url + "/v2/schemas/members").json()
    assert members["properties"]["members"]["items"]["name"] == "member"
    assert requests.get(api.url + "/v2/schemas/nope").status_code == 404


def test_unconfirmed_identity_is_401(api):
    response = requests.get(api.url + "/v2/images", headers={"X-Identity-Status": "Invalid",
                                                              "Accept": "application/json"})
    assert response.status_code == 401
    assert response.json()["title"] == "Unauthorized"
