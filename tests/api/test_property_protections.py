"""Glance's property protections, both file formats: each rule kind (roles, @, !, a policy
rule), first matching section wins, no match closes a property, unreadable ones look absent."""

import subprocess
import textwrap

import pytest

from harness import GLANCELAB, ApiServer
from helpers import ADMIN, Client, identity

ROLES_FILE = """
    [^x_billing_.*]
    create = admin,billing
    read = admin,billing,member
    update = admin,billing
    delete = admin

    [^x_secret$]
    create = admin
    read = admin
    update = admin
    delete = admin

    [^x_frozen$]
    create = @
    read = @
    update = !
    delete = !

    [^x_.*]
    create = @
    read = @
    update = @
    delete = @
    """

POLICIES_FILE = """
    [^x_owner_.*]
    create = glancelab_props_admin
    read = glancelab_props_anyone
    update = glancelab_props_admin
    delete = glancelab_props_admin
    """

POLICY_YAML = """
"glancelab_props_admin": "role:admin"
"glancelab_props_anyone": ""
"""


def _server(work, rule_format, protections, policy=None):
    (work / "protections.conf").write_text(textwrap.dedent(protections))
    extra = f"""
        [DEFAULT]
        property_protection_file = {work}/protections.conf
        property_protection_rule_format = {rule_format}
        """
    if policy:
        (work / "policy.yaml").write_text(policy)
        extra += f"\n[oslo_policy]\npolicy_file = {work}/policy.yaml\n"
    return ApiServer(str(work), extra_conf=extra)


@pytest.fixture(scope="module")
def roles_api(tmp_path_factory):
    api = _server(tmp_path_factory.mktemp("protect-roles"), "roles", ROLES_FILE).start()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def policies_api(tmp_path_factory):
    api = _server(tmp_path_factory.mktemp("protect-policies"), "policies", POLICIES_FILE,
                  POLICY_YAML).start()
    yield api
    api.stop()


def test_roles_decide_create_update_and_delete(roles_api):
    billing = Client(roles_api.url, identity("project-p", "billing,member,reader"))
    member = Client(roles_api.url, identity("project-p"))
    refused = member.post("/v2/images", json={"name": "m", "x_billing_code": "42"})
    assert refused.status_code == 403
    assert "Attribute 'x_billing_code' is reserved" in refused.json()["message"]
    image = billing.create_image(x_billing_code="42")
    assert image["x_billing_code"] == "42"
    path = f"/v2/images/{image['id']}"
    # a member reads it, but may not change or remove it
    assert member.get(path).json()["x_billing_code"] == "42"
    for op in ({"op": "replace", "path": "/x_billing_code", "value": "7"},
               {"op": "remove", "path": "/x_billing_code"}):
        assert member.patch(path, [op]).status_code == 403
    assert billing.patch(path, [{"op": "replace", "path": "/x_billing_code",
                                 "value": "7"}]).json()["x_billing_code"] == "7"
    # only admin deletes it
    assert billing.patch(path, [{"op": "remove", "path": "/x_billing_code"}]).status_code == 403
    admin = Client(roles_api.url, ADMIN)
    assert "x_billing_code" not in admin.patch(path, [{"op": "remove",
                                                       "path": "/x_billing_code"}]).json()


def test_an_unreadable_property_looks_absent(roles_api):
    admin = Client(roles_api.url, ADMIN)
    member = Client(roles_api.url, identity("admin", "member,reader"))
    image = admin.create_image(x_secret="s")
    path = f"/v2/images/{image['id']}"
    assert "x_secret" not in member.get(path).json()
    assert all("x_secret" not in shown for shown in member.get("/v2/images").json()["images"])
    for op in ({"op": "replace", "path": "/x_secret", "value": "t"},
               {"op": "remove", "path": "/x_secret"}):
        answer = member.patch(path, [op])
        assert answer.status_code == 409, answer.text
        assert "Property x_secret does not exist" in answer.json()["message"]
    # adding it is judged as a create: refused, and the admin's value stays
    assert member.patch(path, [{"op": "add", "path": "/x_secret", "value": "t"}]).status_code == 403
    assert admin.get(path).json()["x_secret"] == "s"


def test_at_and_bang_and_the_first_matching_section(roles_api):
    member = Client(roles_api.url, identity("project-q"))
    image = member.create_image(x_frozen="1", x_free="a")
    path = f"/v2/images/{image['id']}"
    assert member.patch(path, [{"op": "replace", "path": "/x_frozen", "value": "2"}]
                        ).status_code == 403  # update = !
    assert member.patch(path, [{"op": "replace", "path": "/x_free", "value": "b"}]
                        ).json()["x_free"] == "b"  # the catch-all [^x_.*] with @


def test_a_property_no_section_matches_is_closed_to_everyone(roles_api):
    admin = Client(roles_api.url, ADMIN)
    refused = admin.post("/v2/images", json={"name": "n", "os_distro": "debian"})
    assert refused.status_code == 403
    # Glance's own os_glance_* properties are never governed by the file
    image = admin.create_image()
    assert "os_glance_failed_import" not in image or image["os_glance_failed_import"] == ""


def test_policies_format_names_rules_of_policy_yaml(policies_api):
    admin = Client(policies_api.url, ADMIN)
    member = Client(policies_api.url, identity("project-r"))
    assert member.post("/v2/images", json={"name": "x", "x_owner_team": "a"}).status_code == 403
    image = admin.create_image(x_owner_team="a")
    assert member.get(f"/v2/images/{image['id']}").status_code == 404  # private to admin
    assert admin.get(f"/v2/images/{image['id']}").json()["x_owner_team"] == "a"


@pytest.mark.parametrize("content, words", [
    ("[^a$]\ncreate = @\nread = @\nupdate = @\n", "lacks 'delete'"),
    ("[^a$]\ncreate = @,!\nread = @\nupdate = @\ndelete = @\n", "cannot both"),
    ("[(unclosed]\ncreate = @\nread = @\nupdate = @\ndelete = @\n", "not a regular expression"),
])
def test_a_bad_protection_file_stops_the_start(tmp_path, content, words):
    server = _server(tmp_path, "roles", content)
    server.write_config()
    started = subprocess.run([GLANCELAB, "--config", server.config_path, "serve"],
                             capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert started.returncode != 0
    assert words in started.stdout + started.stderr


def test_a_policy_rule_the_file_names_must_exist(tmp_path):
    server = _server(tmp_path, "policies",
                     "[^a$]\ncreate = nosuchrule\nread = @\nupdate = @\ndelete = @\n")
    server.write_config()
    started = subprocess.run([GLANCELAB, "--config", server.config_path, "serve"],
                             capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert started.returncode != 0 and "nosuchrule" in started.stdout + started.stderr
