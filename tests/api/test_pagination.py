"""One pagination for images, tasks and metadata definition namespaces: every list is
capped at api_limit_max, and each `next` keeps the caller's filters, sort and limit."""

from urllib.parse import parse_qs, urlsplit

import pytest

from harness import ApiServer
from helpers import ADMIN, Client, wait_for_task


@pytest.fixture(scope="module")
def small_pages(tmp_path_factory):
    api = ApiServer(str(tmp_path_factory.mktemp("pages")), extra_conf="""
        [DEFAULT]
        api_limit_max = 3
        limit_param_default = 2
        """).start()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def admin(small_pages):
    return Client(small_pages.url, ADMIN)


def walk(client, path, key):
    """Every item of a list, page by page through `next`, and the pages' query strings."""
    items, queries = [], []
    while path:
        page = client.get(path).json()
        items += page[key]
        queries.append(parse_qs(urlsplit(path).query))
        path = page.get("next")
    return items, queries


def test_image_pages_keep_filters_and_never_overlap(admin):
    made = [admin.create_image(name=f"paged-{i}", disk_format="qcow2")["id"] for i in range(5)]
    admin.create_image(name="other", disk_format="raw")
    images, queries = walk(admin, "/v2/images?disk_format=qcow2&sort_key=name&sort_dir=asc",
                           "images")
    assert [image["id"] for image in images] == made  # names sort as they were made
    assert len(queries) == 3  # 2 + 2 + 1 (limit_param_default)
    for query in queries[1:]:
        assert query["disk_format"] == ["qcow2"] and query["sort_key"] == ["name"]
    capped = admin.get("/v2/images?limit=100").json()
    assert len(capped["images"]) == 3 and "limit=100" in capped["next"]


def test_task_pages_keep_filters(admin):
    for _ in range(4):
        image = admin.create_image()
        assert admin.put(f"/v2/images/{image['id']}/stage", data=b"x" * 1024,
                         headers={"Content-Type": "application/octet-stream"}
                         ).status_code == 204
        assert admin.post(f"/v2/images/{image['id']}/import",
                          json={"method": {"name": "glance-direct"}}).status_code == 202
        assert wait_for_task(admin, image["id"])["status"] == "success"
    tasks, queries = walk(admin, "/v2/tasks?status=success&limit=3", "tasks")
    assert len(tasks) == 4 and len({task["id"] for task in tasks}) == 4
    assert all(task["status"] == "success" for task in tasks)
    assert queries[1]["status"] == ["success"] and queries[1]["limit"] == ["3"]


def test_metadef_namespaces_are_capped_and_keep_filters(admin):
    for number in range(5):
        for visibility in ("public", "private"):
            created = admin.post("/v2/metadefs/namespaces", json={
                "namespace": f"Paged::{visibility}{number}", "visibility": visibility})
            assert created.status_code == 201, created.text
    everything = admin.get("/v2/metadefs/namespaces").json()
    assert len(everything["namespaces"]) == 3  # api_limit_max, as every list
    public, queries = walk(admin, "/v2/metadefs/namespaces?visibility=public&sort_key="
                                  "namespace&sort_dir=asc&limit=2", "namespaces")
    names = [ns["namespace"] for ns in public]
    assert names == [f"Paged::public{number}" for number in range(5)]
    assert all(query["visibility"] == ["public"] for query in queries)
    assert all(query["limit"] == ["2"] for query in queries)
