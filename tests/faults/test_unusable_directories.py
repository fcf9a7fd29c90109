"""Directories and files the API's user may not use: a 503 that names the store and the
fix, or (the cache) downloads that go around it; never a 500. The server runs without
root's override of file modes, so a mode stops it as it would stop the glance user."""

from __future__ import annotations

import os
import time

import pytest

from harness import ApiServer
from helpers import ADMIN, Client


@pytest.fixture
def strict_api(tmp_path):
    work = tmp_path / "api"
    server = ApiServer(str(work), obey_file_modes=True,
                       extra_conf=f"[DEFAULT]\nimage_cache_dir = {work}/cache\n")
    server.cache_dir = str(work / "cache")
    yield server.start()
    server.stop()
    for path in (server.datadir, server.cache_dir):  # pytest must be able to remove them
        if os.path.isdir(path):
            os.chmod(path, 0o750)


def upload(admin, payload):
    image = admin.create_image()
    assert admin.upload(image["id"], payload).status_code == 204
    return image["id"]


def test_a_store_directory_it_may_not_write_is_503_naming_the_store(strict_api):
    admin = Client(strict_api.url, ADMIN)
    image = admin.create_image()
    os.chmod(strict_api.datadir, 0o500)
    try:
        refused = admin.upload(image["id"], os.urandom(300_000))
    finally:
        os.chmod(strict_api.datadir, 0o750)
    assert refused.status_code == 503, refused.text
    message = refused.json()["message"]
    assert "store 'file'" in message and strict_api.datadir in message and "chown" in message
    assert admin.get(f"/v2/images/{image['id']}").json()["status"] == "queued"
    assert os.listdir(strict_api.datadir) == []
    assert admin.upload(image["id"], b"once the mode is right").status_code == 204


def test_an_image_file_it_may_not_read_is_503_naming_the_store(strict_api):
    admin = Client(strict_api.url, ADMIN)
    image_id = upload(admin, b"data the API cannot read")
    path = os.path.join(strict_api.datadir, image_id)
    os.chmod(path, 0o000)
    try:
        refused = admin.get(f"/v2/images/{image_id}/file")
        assert refused.status_code == 503, refused.text
        assert "store 'file'" in refused.json()["message"]
    finally:
        os.chmod(path, 0o640)
    assert admin.get(f"/v2/images/{image_id}/file").content == b"data the API cannot read"


def test_a_cache_it_may_not_use_is_passed_by(strict_api):
    admin = Client(strict_api.url, ADMIN)
    payload = os.urandom(200_000)
    image_id = upload(admin, payload)
    assert admin.get(f"/v2/images/{image_id}/file").content == payload
    deadline = time.monotonic() + 10
    while not admin.get("/v2/cache").json()["cached_images"]:
        assert time.monotonic() < deadline, strict_api.log()
        time.sleep(0.05)
    os.chmod(strict_api.cache_dir, 0o000)
    try:
        for _ in range(3):  # a cached image, then one that would be filled
            response = admin.get(f"/v2/images/{image_id}/file")
            assert response.status_code == 200 and response.content == payload
        other = upload(admin, b"never cached")
        assert admin.get(f"/v2/images/{other}/file").content == b"never cached"
    finally:
        os.chmod(strict_api.cache_dir, 0o750)
    assert "the image cache at" in open(strict_api.log_path).read()
