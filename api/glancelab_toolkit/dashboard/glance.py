"""The Glance Images API v2, asked with the session's identity; only what the pages show."""

from __future__ import annotations

import requests


class ApiUnavailable(Exception):
    """The image API did not answer (the page says so, with a 503)."""


class ApiRefused(Exception):
    """The image API answered 4xx: its own message is shown."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Glance:
    def __init__(self, api_url: str, headers: dict[str, str]):
        self.api_url = api_url.rstrip("/")
        self.headers = {"Accept": "application/json", **headers}

    def get(self, path: str, params: dict | None = None) -> dict:
        try:
            answer = requests.get(self.api_url + path, params=params, headers=self.headers,
                                  timeout=30)
        except requests.RequestException as exc:
            raise ApiUnavailable(f"{self.api_url}: {exc.__class__.__name__}") from None
        if answer.status_code >= 500:
            raise ApiUnavailable(f"{self.api_url} answered {answer.status_code}")
        if answer.status_code >= 400:
            raise ApiRefused(answer.status_code, _message(answer))
        return answer.json()

    def images(self, filters: dict, name: str, marker: str | None, limit: int) -> dict:
        """One page, as the API paginates it (never the whole catalogue)."""
        params = {"limit": limit, "sort_key": "created_at", "sort_dir": "desc", **filters}
        if name:
            params["name"] = name
        if marker:
            params["marker"] = marker
        return self.get("/v2/images", params)

    def usage(self) -> dict:
        return self.get("/v2/info/usage")["usage"]

    def stores(self, detail: bool) -> list[dict]:
        path = "/v2/info/stores/detail" if detail else "/v2/info/stores"
        return self.get(path)["stores"]


def tab_filters(tab: str, project_id: str | None) -> dict:
    """What a tab of the images page (Horizon's tabs) asks the API for."""
    if tab == "project":
        return {"owner": project_id} if project_id else {}
    if tab == "shared":
        return {"visibility": "shared", "member_status": "all"}
    return {"visibility": tab}  # public, community


TABS = ("project", "shared", "public", "community")


def _message(answer: requests.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:300]
    if isinstance(body, dict) and "message" in body:
        return str(body["message"])
    return answer.text[:300]
