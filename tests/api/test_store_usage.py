"""glancelab's /healthcheck?detailed counts, for admins, the images and bytes each store
holds (on SQLite and PostgreSQL: the store is read from each location's metadata)."""

from __future__ import annotations

import os


def usage_of(admin) -> dict:
    answer = admin.get("/healthcheck?detailed")
    assert answer.status_code == 200, answer.text
    return answer.json()["store_usage"]


def test_each_store_counts_its_images_and_bytes(admin):
    before = usage_of(admin)["file"]
    data = os.urandom(123457)
    image = admin.create_image()
    assert admin.upload(image["id"], data).status_code == 204
    queued = admin.create_image()  # no data: in no store
    after = usage_of(admin)["file"]
    assert after["images"] - before["images"] == 1
    assert after["bytes"] - before["bytes"] == len(data)
    assert admin.delete(f"/v2/images/{image['id']}").status_code == 204
    assert usage_of(admin)["file"] == before
    admin.delete(f"/v2/images/{queued['id']}")
