"""web-download's URL filter compares addresses, not spellings, and never shows secrets."""

import pytest

from glancelab.imports.webdownload import UriFilter, UriRefused, redacted


def uri_filter(**lists):
    base = {"allowed_schemes": ("http", "https"), "disallowed_schemes": (),
            "allowed_hosts": (), "disallowed_hosts": (), "allowed_ports": (),
            "disallowed_ports": ()}
    return UriFilter(**{**base, **lists})


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1", "2130706433", "0x7f000001",
                                  "[::ffff:127.0.0.1]", "localhost", "LOCALHOST", "127.000.0.1"])
def test_every_spelling_of_a_denied_address_is_refused(host):
    deny = uri_filter(disallowed_hosts=("127.0.0.1",))
    with pytest.raises(UriRefused, match="not allowed"):
        deny.check(f"http://{host}:8080/disk.img")


def test_a_denied_name_denies_its_addresses():
    deny = uri_filter(disallowed_hosts=("localhost",))
    with pytest.raises(UriRefused):
        deny.check("http://127.0.0.1/x")


def test_an_allow_list_admits_only_its_addresses():
    allow = uri_filter(allowed_hosts=("localhost",))
    allow.check("http://127.0.0.1/x")
    allow.check("http://2130706433/x")
    with pytest.raises(UriRefused):
        allow.check("http://127.0.0.2/x")


@pytest.mark.parametrize("url", ["http://[::1/x", "http://host:99999/x", "ftp://h/x",
                                 "http:///nohost"])
def test_malformed_urls_are_refused_not_crashed_on(url):
    with pytest.raises(UriRefused):
        uri_filter().check(url)


def test_redacted_drops_credentials_and_signatures():
    url = "https://user:secret@images.example:8443/d.img?X-Amz-Signature=abc&Expires=1#frag"
    shown = redacted(url)
    assert shown == "https://images.example:8443/d.img?***"
    assert "secret" not in shown and "abc" not in shown
    assert redacted("http://[::1/x") == "(an invalid URL)"
