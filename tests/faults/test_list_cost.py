"""A list's cost is bounded: too many filters is a 400 naming the limit, and a query that
runs past [glancelab] list_query_timeout stops with a 503 (tests/unit has SQLite's side)."""

from __future__ import annotations

import pytest

from harness import ApiServer
from helpers import ADMIN, Client


def test_too_many_filters_is_400_naming_the_limit(api):
    admin = Client(api.url, ADMIN)
    properties = "&".join(f"p{n}=v" for n in range(40))
    tags = "&".join(f"tag=t{n}" for n in range(11))
    refused = admin.get(f"/v2/images?{properties}&{tags}")
    assert refused.status_code == 400 and "at most 50" in refused.json()["message"]
    allowed = admin.get(f"/v2/images?{properties}&{'&'.join(f'tag=t{n}' for n in range(10))}")
    assert allowed.status_code == 200 and allowed.json()["images"] == []


@pytest.fixture
def slow_list_api(tmp_path, postgres):
    server = ApiServer(str(tmp_path / "api"), database_url=postgres.new_database(),
                       extra_conf="[glancelab]\nlist_query_timeout = 0.5\n")
    yield server.start()
    server.stop()


def test_a_list_the_database_cannot_answer_in_time_is_503(slow_list_api):
    """Another session holds the image table; the list gives up instead of waiting on."""
    import psycopg2
    admin = Client(slow_list_api.url, ADMIN)
    admin.create_image()
    holder = psycopg2.connect(slow_list_api.database_url.replace("postgresql://", "postgres://"))
    try:
        with holder.cursor() as cursor:
            cursor.execute("LOCK TABLE image IN ACCESS EXCLUSIVE MODE")
            refused = admin.get("/v2/images")  # unbounded, it would wait for the lock
        assert refused.status_code == 503, refused.text
        assert "within 0.5 s" in refused.json()["message"]
    finally:
        holder.rollback()
        holder.close()
    assert len(admin.get("/v2/images").json()["images"]) == 1
