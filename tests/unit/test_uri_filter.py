"""web-download's URL filter: Glance's lists, names compared as names, internal addresses
refused by default, and a check that answers the addresses the fetch must use."""

import socket

import pytest

from glancelab.imports.uri_filter import UriFilter, UriRefused, internal_kind, redacted


def uri_filter(**lists):
    base = {"allowed_schemes": ("http", "https"), "disallowed_schemes": (),
            "allowed_hosts": (), "disallowed_hosts": (), "allowed_ports": (),
            "disallowed_ports": ()}
    return UriFilter(**{**base, **lists})


@pytest.mark.parametrize("host", ["0", "0.0.0.0", "[::]", "127.0.0.1", "127.0.0.2", "[::1]",
                                  "localhost", "169.254.169.254", "10.1.2.3", "172.16.0.9",
                                  "192.168.1.1", "100.64.0.1", "[fd00::1]", "[fe80::1]",
                                  "[::ffff:127.0.0.1]", "224.0.0.1"])
def test_internal_addresses_are_refused_by_default(host):
    with pytest.raises(UriRefused, match="standard form|address"):
        uri_filter().check(f"http://{host}:8080/disk.img")


@pytest.mark.parametrize("host", ["127.1", "2130706433", "0x7f000001", "0x7f.1",
                                  "127.000.0.1", "017700000001"])
def test_shorthand_spellings_are_refused_not_guessed(host):
    with pytest.raises(UriRefused, match="not an address in standard form"):
        uri_filter(allowed_hosts=("127.0.0.1",)).check(f"http://{host}/x")


def test_an_allowed_address_or_range_lifts_the_default_refusal():
    uri_filter(allowed_hosts=("127.0.0.1",)).check("http://127.0.0.1:8080/x")
    target = uri_filter(allowed_hosts=("10.0.0.0/8",)).check("http://10.9.8.7/x")
    assert target.addresses == ("10.9.8.7",)
    with pytest.raises(UriRefused, match="allowed_hosts"):
        uri_filter(allowed_hosts=("10.0.0.0/8",)).check("http://10.9.8.7.nip.invalid/x")


def test_names_are_compared_as_names_in_an_allow_list():
    # Glance compares names as names: allowing 127.0.0.1 does not admit localhost.
    with pytest.raises(UriRefused, match="allowed_hosts"):
        uri_filter(allowed_hosts=("127.0.0.1",)).check("http://localhost/x")
    target = uri_filter(allowed_hosts=("LocalHost.",)).check("http://localhost/x")
    assert target.host == "localhost" and "127.0.0.1" in target.addresses


def test_a_denied_address_also_stops_a_name_that_resolves_to_it():
    deny = uri_filter(disallowed_hosts=("8.8.8.8",))
    with pytest.raises(UriRefused, match="disallowed_hosts"):
        deny.check("http://8.8.8.8/x")
    with pytest.raises(UriRefused, match="disallowed_hosts"):
        deny.check("http://[::ffff:8.8.8.8]/x")


def test_the_check_answers_the_addresses_it_approved(monkeypatch):
    answers = iter([[(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 0))]])
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: next(answers))
    target = uri_filter().check("https://user:p%40ss@Images.Example.org:8443/a/d.img?sig=1")
    assert target.host == "images.example.org" and target.is_name
    assert target.addresses == ("93.184.215.14",)
    assert target.port == 8443 and target.path == "/a/d.img?sig=1"
    assert target.credentials == ("user", "p@ss")


def test_a_name_resolving_to_an_internal_address_is_refused(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 0)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 0))])
    with pytest.raises(UriRefused, match="link-local"):
        uri_filter().check("http://rebind.example.org/x")


@pytest.mark.parametrize("url", ["http://[::1/x", "http://host:99999/x", "ftp://h/x",
                                 "http:///nohost"])
def test_malformed_urls_are_refused_not_crashed_on(url):
    with pytest.raises(UriRefused):
        uri_filter().check(url)


def test_ports_and_schemes_follow_glances_lists():
    with pytest.raises(UriRefused, match="allowed_ports"):
        uri_filter(allowed_ports=(80,)).check("http://8.8.8.8:8080/x")
    with pytest.raises(UriRefused, match="disallowed_schemes"):
        uri_filter(allowed_schemes=(), disallowed_schemes=("http",)).check("http://8.8.8.8/x")


def test_internal_kinds():
    assert internal_kind("8.8.8.8") is None
    assert internal_kind("2001:4860:4860::8888") is None
    assert internal_kind("169.254.169.254") == "link-local"
    assert internal_kind("::") == "unspecified"
    assert internal_kind("64:ff9b::7f00:1") is not None  # NAT64 of 127.0.0.1
    assert internal_kind("192.0.2.10") is not None  # documentation range


def test_redacted_drops_credentials_and_signatures():
    url = "https://user:secret@images.example:8443/d.img?X-Amz-Signature=abc&Expires=1#frag"
    shown = redacted(url)
    assert shown == "https://images.example:8443/d.img?***"
    assert "secret" not in shown and "abc" not in shown
    assert redacted("http://[::1/x") == "(an invalid URL)"
