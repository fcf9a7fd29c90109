"""`glancelab dashboard --config glance-api.conf`: the API and the Keystone a node's
configuration names, as glancelab itself reads them."""

from __future__ import annotations

from glancelab_toolkit.dashboard.server import from_config


def test_a_keystone_node_s_config_names_its_api_and_keystone(tmp_path):
    conf = tmp_path / "glance-api.conf"
    conf.write_text("[DEFAULT]\nbind_host = 0.0.0.0\nbind_port = 9555\n"
                    "[paste_deploy]\nflavor = keystone\n"
                    "[keystone_authtoken]\nwww_authenticate_uri = http://127.0.0.1:5000/\n")
    assert from_config(str(conf)) == {"api_url": "http://127.0.0.1:9555",
                                      "keystone_url": "http://127.0.0.1:5000/v3"}


def test_a_noauth_node_s_config_names_no_keystone(tmp_path):
    conf = tmp_path / "glance-api.conf"
    conf.write_text("[DEFAULT]\nbind_host = ::1\nauth_strategy = noauth\n"
                    "[keystone_authtoken]\nwww_authenticate_uri = http://127.0.0.1:5000/v3\n")
    assert from_config(str(conf)) == {"api_url": "http://[::1]:9292", "keystone_url": None}
