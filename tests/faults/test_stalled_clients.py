"""Clients that send part of an upload and then nothing: the service stays available,
and once client_socket_timeout has passed their images are queued again with nothing
left behind."""

import os
import socket
import time

import pytest
import requests

from harness import ApiServer
from helpers import ADMIN, Client

STALLED = 64
TIMEOUT = 8


@pytest.fixture
def stall_api(tmp_path):
    server = ApiServer(str(tmp_path), extra_conf=f"""
        [DEFAULT]
        client_socket_timeout = {TIMEOUT}
        """).start()
    yield server
    server.stop()


def stalled_upload(api, image_id) -> socket.socket:
    host, port = api.url.split("//")[1].split(":")
    sock = socket.create_connection((host, int(port)))
    headers = "".join(f"{k}: {v}\r\n" for k, v in ADMIN.items())
    sock.sendall(f"PUT /v2/images/{image_id}/file HTTP/1.1\r\nHost: x\r\n{headers}"
                 "Content-Type: application/octet-stream\r\n"
                 f"Content-Length: {10 * 1024 * 1024}\r\n\r\n".encode())
    sock.sendall(os.urandom(1024 * 1024))
    return sock


def test_stalled_uploads_neither_block_others_nor_stay_saving(stall_api):
    client = Client(stall_api.url, ADMIN)
    images = [client.create_image()["id"] for _ in range(STALLED)]
    sockets = [stalled_upload(stall_api, image_id) for image_id in images]
    try:
        deadline = time.monotonic() + 5
        while sum(client.get(f"/v2/images/{i}").json()["status"] == "saving"
                  for i in images) < STALLED // 2:
            assert time.monotonic() < deadline, "the stalled uploads never started"
            time.sleep(0.2)
        # Everyone else is still served while the uploads hang (well before the timeout).
        listed = requests.get(f"{stall_api.url}/v2/images", headers=ADMIN, timeout=3)
        assert listed.status_code == 200
        created = requests.post(f"{stall_api.url}/v2/images", headers=ADMIN, timeout=3,
                                json={"name": "while-stalled"})
        assert created.status_code == 201
        deadline = time.monotonic() + TIMEOUT + 20
        while any(client.get(f"/v2/images/{i}").json()["status"] != "queued" for i in images):
            assert time.monotonic() < deadline, "stalled uploads stayed saving"
            time.sleep(0.5)
        # Their connections closing must not stall the workers' event loops either: every
        # request meanwhile is answered (a frozen loop shows as a read timeout or a reset).
        calm = time.monotonic() + 15
        while time.monotonic() < calm:
            listed = requests.get(f"{stall_api.url}/v2/images?limit=1", headers=ADMIN, timeout=5)
            assert listed.status_code == 200
            time.sleep(0.1)
    finally:
        for sock in sockets:
            sock.close()
    leftovers = os.listdir(stall_api.datadir)
    assert leftovers == [], leftovers
    # The images are usable again: a real upload now succeeds.
    assert client.upload(images[0], b"after the stall").status_code == 204
