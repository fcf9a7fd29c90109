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


def test_service_runs_as_glance_and_answers(host):
    processes = host.process.filter(user="glance")
    assert any("glancelab" in p.args and "serve" in p.args for p in processes)
    address = host.ansible.get_variables()["ansible_host"]
    health = host.run(f"curl -sf http://{address}:9292/healthcheck")
    assert health.rc == 0 and health.stdout == "OK"
    images = host.run(f"curl -sf http://{address}:9292/v2/images")
    assert images.rc == 0 and '"images"' in images.stdout
