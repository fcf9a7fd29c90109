"""An error answered before the body was read never resets the client's next request
on the same keep-alive connection."""

import os

import pytest
import requests

from helpers import ADMIN


@pytest.fixture
def session(api):
    with requests.Session() as http:
        http.headers.update(ADMIN)
        yield http


def create(api, session):
    response = session.post(f"{api.url}/v2/images",
                            json={"name": "keepalive", "disk_format": "raw",
                                  "container_format": "bare"})
    assert response.status_code == 201, response.text
    return response.json()["id"]


@pytest.mark.parametrize("refusal", ["stage-twice", "unknown-store", "wrong-content-type"])
def test_the_connection_survives_an_early_refusal(api, session, refusal):
    image_id = create(api, session)
    body = os.urandom(2 * 1024 * 1024 + 11)
    octet = {"Content-Type": "application/octet-stream"}
    if refusal == "stage-twice":
        first = session.put(f"{api.url}/v2/images/{image_id}/stage", data=b"x", headers=octet)
        assert first.status_code == 204, first.text
        refused = session.put(f"{api.url}/v2/images/{image_id}/stage", data=body, headers=octet)
        assert refused.status_code == 409, refused.text
    elif refusal == "unknown-store":
        refused = session.put(f"{api.url}/v2/images/{image_id}/file", data=body,
                              headers={**octet, "X-Image-Meta-Store": "nowhere"})
        assert refused.status_code == 400, refused.text
    else:
        refused = session.put(f"{api.url}/v2/images/{image_id}/file", data=body,
                              headers={"Content-Type": "text/plain"})
        assert refused.status_code == 415, refused.text
    for _ in range(3):  # the same pooled connection, request after request
        again = session.get(f"{api.url}/v2/images/{image_id}")
        assert again.status_code == 200, again.text
