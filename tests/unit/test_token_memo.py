"""The memo of auth_token's answers: what it keeps, for how long, and what it replaces."""

from __future__ import annotations

import datetime

from glancelab.identity.token_memo import TokenMemo, auth_header_keys


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def expires_in(seconds: float) -> str:
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def confirmed(token: str, project: str, roles: str = "member,reader", expires=3600, **fields):
    """The environ as auth_token hands it to the app for a valid token."""
    return {"HTTP_X_AUTH_TOKEN": token, "HTTP_X_IDENTITY_STATUS": "Confirmed",
            "HTTP_X_PROJECT_ID": project, "HTTP_X_ROLES": roles, "HTTP_X_USER_ID": "u-" + project,
            "keystone.token_info": {"token": {"expires_at": expires_in(expires), **fields}}}


def request(token: str, **headers) -> dict:
    return {"HTTP_X_AUTH_TOKEN": token, **headers}


def test_the_header_keys_are_keystonemiddlewares_own():
    keys = auth_header_keys()
    for key in ("HTTP_X_ROLES", "HTTP_X_PROJECT_ID", "HTTP_X_IDENTITY_STATUS",
                "HTTP_X_SERVICE_ROLES", "HTTP_X_TENANT_ID", "HTTP_X_IS_ADMIN_PROJECT"):
        assert key in keys
    assert "HTTP_X_AUTH_TOKEN" not in keys and "HTTP_X_IMAGE_META_STORE" not in keys


def test_a_remembered_token_gets_its_identity_and_loses_forged_headers():
    memo = TokenMemo(ttl=300)
    memo.remember(confirmed("tok-demo", "demo"))
    environ = request("tok-demo", HTTP_X_ROLES="admin", HTTP_X_PROJECT_ID="admin",
                      HTTP_X_SERVICE_ROLES="service", HTTP_X_IMAGE_META_STORE="fast")
    assert memo.recall(environ)
    assert environ["HTTP_X_ROLES"] == "member,reader"
    assert environ["HTTP_X_PROJECT_ID"] == "demo"
    assert "HTTP_X_SERVICE_ROLES" not in environ  # forged, and the token has none
    assert environ["HTTP_X_IMAGE_META_STORE"] == "fast"  # not an identity header
    assert not memo.recall(request("tok-other", HTTP_X_ROLES="admin"))


def test_an_entry_lasts_no_longer_than_token_cache_time_nor_the_token():
    clock = Clock()
    memo = TokenMemo(ttl=300, clock=clock)
    memo.remember(confirmed("long", "p"))
    memo.remember(confirmed("short", "p", expires=10))
    clock.now += 11
    assert memo.recall(request("long")) and not memo.recall(request("short"))
    clock.now += 290
    assert not memo.recall(request("long"))


def test_what_is_never_remembered():
    memo = TokenMemo(ttl=300)
    unconfirmed = confirmed("a", "p")
    unconfirmed["HTTP_X_IDENTITY_STATUS"] = "Invalid"
    with_service_token = {**confirmed("b", "p"), "HTTP_X_SERVICE_TOKEN": "svc"}
    for environ in (unconfirmed, with_service_token, confirmed("c", "p", bind={"kerberos": "x"}),
                    confirmed("d", "p", expires=-5)):
        memo.remember(environ)
    assert len(memo) == 0
    memo.remember(confirmed("e", "p"))
    assert not memo.recall(request("e", HTTP_X_SERVICE_TOKEN="svc"))  # auth_token decides


def test_token_cache_time_off_turns_the_memo_off():
    memo = TokenMemo(ttl=-1)
    memo.remember(confirmed("a", "p"))
    assert not memo.recall(request("a"))


def test_the_memo_is_bounded_least_recently_used_first():
    memo = TokenMemo(ttl=300, size=3)
    for name in "abc":
        memo.remember(confirmed(name, name))
    assert memo.recall(request("a"))  # a is now the most recent
    memo.remember(confirmed("d", "d"))
    assert len(memo) == 3
    assert not memo.recall(request("b"))
    assert all(memo.recall(request(name)) for name in "acd")
