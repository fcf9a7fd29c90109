"""web-download's fetch against a real HTTP server on 127.0.0.1: it connects to the address
the filter approved (never resolving again), sends URL credentials only to their origin,
checks every redirect hop before connecting, and drops a source that trickles."""

import os
import socket
import time

import pytest

from harness import StaticHttpServer
from glancelab.imports.uri_filter import UriFilter, UriRefused
from glancelab.imports.webdownload import FetchFailed, Pace, fetch

PACE = Pace(min_rate=1000, window=1.0, deadline=60.0)


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    root = tmp_path_factory.mktemp("fetchweb")
    (root / "disk.raw").write_bytes(os.urandom(300_000))
    server = StaticHttpServer(str(root))
    server.root = root
    yield server
    server.stop()


def allowing(*hosts, **lists):
    base = {"allowed_schemes": ("http",), "disallowed_schemes": (), "allowed_hosts": hosts,
            "disallowed_hosts": (), "allowed_ports": (), "disallowed_ports": ()}
    return UriFilter(**{**base, **lists})


def body(download):
    return b"".join(download.chunks)


def test_fetch_connects_to_the_checked_address_without_resolving_again(web, monkeypatch):
    real = socket.getaddrinfo
    lookups = []

    def rebinding(host, *args, **kwargs):
        lookups.append(host)
        if host == "images.rebind.test":
            # first answer 127.0.0.1 (allowed by name); any later lookup would say 8.8.8.8
            target = "127.0.0.1" if len(lookups) == 1 else "8.8.8.8"
            return real(target, *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    url = f"http://images.rebind.test:{web.port}/disk.raw"
    data = body(fetch(url, allowing("images.rebind.test"), PACE))
    assert data == (web.root / "disk.raw").read_bytes()
    assert lookups.count("images.rebind.test") == 1  # the connection used the address


def test_credentials_go_as_basic_auth_to_their_origin_only(web):
    url = f"http://glance:s3cret@127.0.0.1:{web.port}/auth/disk.raw"
    assert body(fetch(url, allowing("127.0.0.1"), PACE)) == \
        (web.root / "disk.raw").read_bytes()
    assert web.authorizations[-1].startswith("Basic ")
    # a redirect to another origin (here: another port) gets no credentials
    other = StaticHttpServer(str(web.root))
    try:
        hop = f"http://glance:s3cret@127.0.0.1:{web.port}/redirect?to={other.url}/disk.raw"
        body(fetch(hop, allowing("127.0.0.1"), PACE))
        assert other.authorizations == [None]
    finally:
        other.stop()


def test_every_redirect_hop_is_checked_before_it_is_connected(web):
    forbidden = StaticHttpServer(str(web.root))
    try:
        uri_filter = allowing("127.0.0.1", disallowed_ports=(forbidden.port,))
        hop = f"http://127.0.0.1:{web.port}/redirect?to=http://0:{web.port}/disk.raw"
        with pytest.raises(UriRefused, match="standard form"):
            fetch(hop, uri_filter, PACE)
        hop = f"http://127.0.0.1:{web.port}/redirect?to={forbidden.url}/disk.raw"
        with pytest.raises(UriRefused, match="disallowed_ports"):
            fetch(hop, uri_filter, PACE)
        hop = f"http://127.0.0.1:{web.port}/redirect?to=http://localhost:{web.port}/disk.raw"
        with pytest.raises(UriRefused, match="allowed_hosts"):
            fetch(hop, uri_filter, PACE)
        assert forbidden.hits == []
    finally:
        forbidden.stop()


def test_a_trickling_source_is_dropped(web):
    started = time.monotonic()
    download = fetch(f"http://127.0.0.1:{web.port}/trickle/disk.raw", allowing("127.0.0.1"),
                     PACE)
    with pytest.raises(FetchFailed, match="web_download_min_rate"):
        body(download)
    assert time.monotonic() - started < 30  # not the whole 100,000 bytes at 5 a second


def test_an_error_answer_fails_with_its_status(web):
    with pytest.raises(FetchFailed, match="404"):
        fetch(f"http://127.0.0.1:{web.port}/missing.raw", allowing("127.0.0.1"), PACE)
    with pytest.raises(FetchFailed, match="401"):
        fetch(f"http://127.0.0.1:{web.port}/auth/disk.raw", allowing("127.0.0.1"), PACE)
