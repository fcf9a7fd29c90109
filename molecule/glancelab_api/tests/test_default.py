"""What the glancelab_api role leaves on the host itself."""


def test_service_user_and_group(host):
    user = host.user("glance")
    assert user.exists and user.group == "glance"
    assert user.shell == "/usr/sbin/nologin"


def test_directories_owners_and_modes(host):
    home = host.file("/var/lib/glance")
    assert home.is_directory and home.user == "glance" and home.group == "glance"
    assert home.mode == 0o750
    conf_dir = host.file("/etc/glance")
    assert conf_dir.user == "root" and conf_dir.group == "glance" and conf_dir.mode == 0o750


def test_config_has_glance_keys(host):
    conf = host.file("/etc/glance/glance-api.conf")
    assert conf.user == "root" and conf.group == "glance" and conf.mode == 0o640
    assert conf.contains("^bind_port = 9292$")
    assert conf.contains("^filesystem_store_datadir = /var/lib/glance/images$")
    assert conf.contains("^connection = sqlite:////var/lib/glance/glance.sqlite$")


def test_package_installed_in_virtualenv(host):
    result = host.run("/opt/glancelab/venv/bin/glancelab --version")
    assert result.rc == 0 and result.stdout.startswith("glancelab ")


def test_config_asks_keystone_by_default(host):
    conf = host.file("/etc/glance/glance-api.conf")
    assert conf.contains("^auth_strategy = keystone$")
    assert conf.contains("^\\[keystone_authtoken\\]$") and conf.contains("^username = glance$")


def test_service_runs_as_glance_and_answers_with_a_token_only(host):
    processes = host.process.filter(user="glance")
    assert any("glancelab" in p.args and "serve" in p.args for p in processes)
    address = host.ansible.get_variables()["ansible_host"]
    health = host.run(f"curl -sf http://{address}:9292/healthcheck")
    assert health.rc == 0 and health.stdout == "OK"
    anonymous = host.run(f"curl -s -o /dev/null -w '%{{http_code}}' http://{address}:9292/v2/images")
    assert anonymous.stdout == "401"
    forged = host.run(f"curl -s -o /dev/null -w '%{{http_code}}' -H 'X-Roles: admin' "
                      f"-H 'X-Identity-Status: Confirmed' http://{address}:9292/v2/images")
    assert forged.stdout == "401"
    token = demo_token()
    images = host.run(f"curl -sf -H 'X-Auth-Token: {token}' http://{address}:9292/v2/images")
    assert images.rc == 0 and '"images"' in images.stdout


def demo_token() -> str:
    """A token of the suite's Keystone's demo user, asked from the controller."""
    import json
    import os
    import urllib.request
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "demo", "domain": {"name": "Default"}, "password": "demo"}}},
        "scope": {"project": {"name": "demo", "domain": {"name": "Default"}}}}}
    request = urllib.request.Request(f"{os.environ['GLANCELAB_KEYSTONE_URL']}/v3/auth/tokens",
                                     data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.headers["X-Subject-Token"]
