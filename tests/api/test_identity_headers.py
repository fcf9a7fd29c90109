"""Identity headers as keystonemiddleware and python-glanceclient send them."""

from helpers import Client, identity


def test_roles_are_case_insensitive(api):
    shouting_admin = Client(api.url, identity("proj-case", "Admin,MEMBER"))
    image = shouting_admin.create_image(visibility="public")  # publicize_image: admins only
    assert image["visibility"] == "public"
    reader = Client(api.url, identity("proj-case-r", "Reader"))
    assert reader.get(f"/v2/images/{image['id']}").status_code == 200
    assert reader.post("/v2/images", json={"name": "x"}).status_code == 403


def test_percent_encoded_headers_are_decoded(api):
    # python-glanceclient's identity_headers arrive as "member%2Creader"
    client = Client(api.url, {"X-Identity-Status": "Confirmed", "X-Project-Id": "proj%2Dpct",
                              "X-User-Id": "user-pct", "X-Roles": "member%2Creader"})
    image = client.create_image()
    assert image["owner"] == "proj-pct"
    assert client.upload(image["id"], b"data").status_code == 204

