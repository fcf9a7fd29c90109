"""How a request gets its identity, per auth_strategy: the WSGI layers around the app.

keystone puts keystonemiddleware's auth_token in front, configured from
[keystone_authtoken] through the same ConfigOpts, exactly as Glance's paste pipeline does:
no token or a bad one is 401 with WWW-Authenticate, Keystone unreachable is 503, and the
identity headers a client sent are replaced by the token's; a token's later requests take
that identity from a memo (identity/token_memo.py). Version discovery and the health check
stay anonymous. noauth and trusted-proxy believe whoever connects, so they
listen only on loopback unless [glancelab] allow_unauthenticated_network says otherwise.
"""

from __future__ import annotations

import ipaddress
import socket

from glancelab.conf import Config, ConfigError
from glancelab.identity.middleware import is_anonymous_path
from glancelab.identity.token_memo import TokenMemo


def protect(app, config: Config):
    """The WSGI application clients reach, for the configured auth_strategy."""
    if config.auth != "keystone":
        return app
    from keystonemiddleware import auth_token

    def confirmed(environ, start_response):  # the app, as auth_token calls it
        memo.remember(environ)
        return app(environ, start_response)

    guarded = auth_token.AuthProtocol(confirmed, {"oslo_config_config": config.oslo})
    # auth_token registered its options on our ConfigOpts as it started.
    memo = TokenMemo(ttl=config.oslo.keystone_authtoken.token_cache_time)

    def with_tokens(environ, start_response):
        if is_anonymous_path(environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")):
            # auth_token's own list of identity headers: a client's are dropped here too.
            for header in memo.header_keys:
                environ.pop(header, None)
            return app(environ, start_response)
        if memo.recall(environ):
            return app(environ, start_response)
        return guarded(environ, start_response)

    return with_tokens


def check_exposure(config: Config) -> None:
    """Refuse to serve without tokens on an address others can reach, unless told to."""
    if config.auth == "keystone" or config.glancelab.allow_unauthenticated_network:
        return
    if not _is_loopback(config.bind_host):
        raise ConfigError(
            f"auth_strategy {config.auth} trusts every caller, and bind_host "
            f"{config.bind_host} is not a loopback address: use auth_strategy = keystone, "
            "bind to 127.0.0.1, or set [glancelab] allow_unauthenticated_network = true "
            "if something in front authenticates callers.")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(info[4][0]).is_loopback
                       for info in socket.getaddrinfo(host, None))
        except OSError:
            return False
