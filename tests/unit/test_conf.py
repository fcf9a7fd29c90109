"""The option table: Glance's syntax read as Glance reads it, and bad values said with a line."""

from __future__ import annotations

import io
import os
import re
import textwrap

import pytest

from glancelab import conf
from glancelab.conf import ConfigError, check
from glancelab import stores
from glancelab.stores import build_registry

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def write(tmp_path, text: str, name: str = "glance-api.conf") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def load(tmp_path, text: str, environ: dict | None = None):
    return conf.load(write(tmp_path, text), environ=environ or {})


def test_defaults_are_glances_with_a_loopback_try_out(tmp_path):
    config = load(tmp_path, "")
    assert config.bind_host == "127.0.0.1" and config.bind_port == 9292
    assert config.enabled_import_methods == ["glance-direct", "web-download", "copy-image"]
    assert config.import_filtering_opts.allowed_ports == [80, 443]
    assert config.image_size_cap == 1099511627776
    assert config.auth == "noauth"
    assert config.group("glance_store").filesystem_store_datadir == "var/images"


def test_bracketed_lists_and_empty_brackets(tmp_path):
    config = load(tmp_path, """\
        [DEFAULT]
        enabled_import_methods = [glance-direct,web-download]
        [import_filtering_opts]
        allowed_ports = []
        disallowed_ports = 8080, 9090
        """)
    assert config.enabled_import_methods == ["glance-direct", "web-download"]
    assert config.import_filtering_opts.allowed_ports == []
    assert config.import_filtering_opts.disallowed_ports == [8080, 9090]


def test_repeated_datadirs_lines_are_all_kept_in_priority_order(tmp_path):
    config = load(tmp_path, f"""\
        [DEFAULT]
        enabled_backends = cheap:file
        [glance_store]
        default_backend = cheap
        [cheap]
        filesystem_store_datadirs = {tmp_path}/a:100
        filesystem_store_datadirs = {tmp_path}/b:200
        filesystem_store_datadirs = {tmp_path}/c:50, {tmp_path}/d:10
        """)
    store = build_registry(config).default
    assert [prio for _, prio in store.datadirs] == [200, 100, 50, 10]


def test_loading_and_building_stores_never_touches_the_disk(tmp_path):
    target = tmp_path / "not-here"
    config = load(tmp_path, f"""\
        [DEFAULT]
        enabled_backends = fast:file
        image_cache_dir = {target}/cache
        [database]
        connection = sqlite:///{target}/glance.sqlite
        [glance_store]
        default_backend = fast
        [fast]
        filesystem_store_datadir = {target}/images
        """)
    build_registry(config)
    assert not target.exists()


def test_a_bad_value_names_its_file_and_line(tmp_path):
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, """\
            [DEFAULT]
            bind_port = 9292

            workers = 0
            """)
    assert re.search(r"glance-api.conf:4: \[DEFAULT\] workers = '0' is not valid", str(raised.value))


def test_an_inline_comment_is_explained(tmp_path):
    with pytest.raises(ConfigError, match="no inline comments"):
        load(tmp_path, "[DEFAULT]\nworkers = 2   # two\n")


def test_snippets_of_the_conf_d_win_in_name_order(tmp_path):
    path = write(tmp_path, "[DEFAULT]\nworkers = 2\n")
    os.mkdir(f"{path}.d")
    write(tmp_path, "[DEFAULT]\nworkers = 3\n", "glance-api.conf.d/10-a.conf")
    write(tmp_path, "[DEFAULT]\nworkers = 4\n", "glance-api.conf.d/20-b.conf")
    assert conf.load(path, environ={}).workers == 4


def test_environment_overrides_the_file_backend_sections_too(tmp_path):
    config = load(tmp_path, """\
        [DEFAULT]
        enabled_backends = fast:file
        workers = 2
        [glance_store]
        default_backend = fast
        [fast]
        filesystem_store_datadir = /srv/a
        """, environ={"GLANCELAB__DEFAULT__WORKERS": "5",
                      "GLANCELAB__FAST__FILESYSTEM_STORE_DATADIR": "/srv/b",
                      "GLANCELAB__FAST__FILESYSTEM_STORE_DATADIRS": "/srv/c:1"})
    assert config.workers == 5
    assert config.group("fast").filesystem_store_datadir == "/srv/b"
    assert config.group("fast").filesystem_store_datadirs == ["/srv/c:1"]


def test_a_bad_environment_value_names_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="GLANCELAB__DEFAULT__BIND_PORT"):
        load(tmp_path, "", environ={"GLANCELAB__DEFAULT__BIND_PORT": "http"})


def test_sizes_take_units(tmp_path):
    config = load(tmp_path, "[DEFAULT]\nuser_storage_quota = 10MB\nimage_cache_max_size = 1GB\n")
    assert config.user_storage_quota == 10 * 1024**2
    assert config.image_cache_max_size == 1024**3


def test_keystone_paste_flavor_means_keystone_auth(tmp_path):
    assert load(tmp_path, "[paste_deploy]\nflavor = keystone\n").auth == "keystone"
    assert load(tmp_path, "[paste_deploy]\nflavor = keystone\n"
                          "[DEFAULT]\nauth_strategy = noauth\n").auth == "noauth"


@pytest.mark.parametrize("text, message", [
    ("[DEFAULT]\nenabled_backends = fast:tape\n", "TYPE one of file, http, rbd, s3, swift"),
    ("[DEFAULT]\nenabled_backends = os_glance_x:file\n", "reserved"),
    ("[glance_store]\nstores = file,tape\n", "'tape' is not a store type"),
])
def test_store_types_are_checked(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, text)


def run_check(path: str) -> tuple[int, str]:
    out = io.StringIO()
    return check.run(path, out, describe=stores.describe), out.getvalue()


def test_check_names_typos_with_a_did_you_mean(tmp_path):
    code, out = run_check(write(tmp_path, """\
        [DEFAULT]
        wokers = 3
        enabled_backends = fast:file
        log_file = /var/log/glance/api.log
        [glance_store]
        default_backend = fast
        [fast]
        filesystem_store_datadir = /srv/fast
        [fsat]
        filesystem_store_datadir = /srv/other
        [keystone_authtoken]
        auth_url = http://127.0.0.1:5000
        [oslo_messaging_notifications]
        driver = messagingv2
        """))
    assert code == 1
    assert ":2: [DEFAULT] wokers: unknown key (did you mean workers?)" in out
    assert "unknown section [fsat] (did you mean fast?)" in out
    assert "note:" in out and "[oslo_messaging_notifications]" in out and "log_file" in out
    assert "keystone_authtoken" not in out  # keystonemiddleware's own section, used
    assert "store fast (default) [file]: chunk_size=65536, data_dir=/srv/fast" in out
    assert "2 problem(s)" in out


def test_check_of_a_clean_file_is_ok(tmp_path):
    code, out = run_check(write(tmp_path, "[DEFAULT]\nworkers = 3\n"))
    assert code == 0 and out.rstrip().endswith(": OK"), out


def readme_ini_blocks() -> list[str]:
    with open(os.path.join(ROOT, "README.md")) as handle:
        return re.findall(r"```ini\n(.*?)```", handle.read(), re.S)


@pytest.mark.parametrize("block", readme_ini_blocks())
def test_every_ini_block_of_the_readme_loads_and_checks_clean(tmp_path, block):
    before = os.path.exists("/var/lib/glance")
    code, out = run_check(write(tmp_path, block))
    assert code == 0, out
    assert os.path.exists("/var/lib/glance") == before


def test_the_readme_has_ini_blocks():
    assert len(readme_ini_blocks()) >= 2


def test_check_reports_every_problem_at_once(tmp_path):
    """Two bad values and a misspelt key: all three, with their lines, in one run (the
    service itself refuses to start naming both values)."""
    path = write(tmp_path, """\
        [DEFAULT]
        user_storage_quota = 10MiB
        wokers = 3
        image_size_cap = big
        """)
    code, out = run_check(path)
    assert code == 1
    assert ":2: [DEFAULT] user_storage_quota = '10MiB' is not valid" in out
    assert ":4: [DEFAULT] image_size_cap = 'big' is not valid" in out
    assert ":3: [DEFAULT] wokers: unknown key (did you mean workers?)" in out
    assert "3 problem(s)" in out
    with pytest.raises(ConfigError) as refused:
        conf.load(path)
    assert "user_storage_quota" in str(refused.value) and "image_size_cap" in str(refused.value)
