"""The Glance Images API v2, asked with the session's identity; what the pages need.

Every call names the API in its outage (503 on the page) and passes the API's own
message on a refusal (its 4xx on the page).
"""

from __future__ import annotations

import requests

PATCH_JSON = "application/openstack-images-v2.1-json-patch"


class ApiUnavailable(Exception):
    """The image API did not answer."""


class ApiRefused(Exception):
    """The image API answered 4xx: its own message is shown."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Glance:
    def __init__(self, api_url: str, headers: dict[str, str]):
        self.api_url = api_url.rstrip("/")
        self.headers = {"Accept": "application/json", **headers}

    def call(self, method: str, path: str, timeout: float = 30, **kwargs) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        try:
            answer = requests.request(method, self.api_url + path, headers=headers,
                                      timeout=timeout, **kwargs)
        except requests.RequestException as exc:
            raise ApiUnavailable(f"{self.api_url}: {exc.__class__.__name__}") from None
        if answer.status_code >= 500:
            raise ApiUnavailable(f"{self.api_url} answered {answer.status_code}: "
                                 f"{_message(answer)}")
        if answer.status_code >= 400:
            raise ApiRefused(answer.status_code, _message(answer))
        return answer

    def get(self, path: str, params: dict | None = None) -> dict:
        return self.call("GET", path, params=params).json()

    # -- images -----------------------------------------------------------------------

    def images(self, filters: dict, name: str, marker: str | None, limit: int) -> dict:
        """One page, as the API paginates it (never the whole catalogue)."""
        params = {"limit": limit, "sort_key": "created_at", "sort_dir": "desc", **filters}
        if name:
            params["name"] = name
        if marker:
            params["marker"] = marker
        return self.get("/v2/images", params)

    def image(self, image_id: str) -> dict:
        return self.get(f"/v2/images/{image_id}")

    def create(self, fields: dict) -> dict:
        return self.call("POST", "/v2/images", json=fields).json()

    def upload(self, image_id: str, body) -> None:
        """The image's data from `body` (read(n) and a length), streamed as it comes."""
        self._put_data(f"/v2/images/{image_id}/file", body)

    def stage(self, image_id: str, body) -> None:
        """glance-direct's first half: the data staged, to be imported after."""
        self._put_data(f"/v2/images/{image_id}/stage", body)

    def _put_data(self, path: str, body) -> None:
        self.call("PUT", path, data=body, timeout=600,
                  headers={"Content-Type": "application/octet-stream"})

    def patch(self, image_id: str, changes: list[dict]) -> dict:
        return self.call("PATCH", f"/v2/images/{image_id}", json=changes,
                         headers={"Content-Type": PATCH_JSON}).json()

    def delete(self, image_id: str) -> None:
        self.call("DELETE", f"/v2/images/{image_id}")

    def action(self, image_id: str, action: str) -> None:
        """deactivate or reactivate"""
        self.call("POST", f"/v2/images/{image_id}/actions/{action}")

    def import_image(self, image_id: str, method: dict, stores: list[str] | None = None) -> None:
        body = {"method": method, **({"stores": stores} if stores else {})}
        self.call("POST", f"/v2/images/{image_id}/import", json=body)

    def members(self, image_id: str) -> list[dict]:
        return self.get(f"/v2/images/{image_id}/members")["members"]

    def add_member(self, image_id: str, project_id: str) -> None:
        self.call("POST", f"/v2/images/{image_id}/members", json={"member": project_id})

    def set_member_status(self, image_id: str, project_id: str, status: str) -> None:
        self.call("PUT", f"/v2/images/{image_id}/members/{project_id}",
                  json={"status": status})

    def image_tasks(self, image_id: str) -> list[dict]:
        return self.get(f"/v2/images/{image_id}/tasks")["tasks"]

    # -- the rest -----------------------------------------------------------------------

    def tasks(self, marker: str | None, limit: int) -> dict:
        params = {"limit": limit, "sort_dir": "desc", **({"marker": marker} if marker else {})}
        return self.get("/v2/tasks", params)

    def usage(self) -> dict:
        return self.get("/v2/info/usage")["usage"]

    def stores(self, detail: bool) -> list[dict]:
        path = "/v2/info/stores/detail" if detail else "/v2/info/stores"
        return self.get(path)["stores"]

    def health(self) -> dict:
        """glancelab's /healthcheck?detailed (admins; 503 with the same body when the node
        is unhealthy): each store's health, the cache's size and limit. {} where the API
        has none (a real Glance answers it as text)."""
        try:
            body = requests.get(f"{self.api_url}/healthcheck?detailed", headers=self.headers,
                                timeout=30).json()
        except (requests.RequestException, ValueError):
            return {}
        return body if isinstance(body, dict) else {}

    def import_info(self) -> list[str]:
        return self.get("/v2/info/import")["import-methods"]["value"]

    def cache(self) -> dict:
        return self.get("/v2/cache")

    def queue_for_cache(self, image_id: str) -> None:
        self.call("PUT", f"/v2/cache/{image_id}")

    def cache_delete(self, image_id: str | None) -> None:
        self.call("DELETE", f"/v2/cache/{image_id}" if image_id else "/v2/cache")

    def cache_maintain(self, what: str) -> None:
        """prune or clean"""
        self.call("POST", f"/v2/cache/{what}")


def next_marker(page: dict, key: str) -> str | None:
    """The marker of a list's next page (its last item), or None on the last page."""
    items = page.get(key, [])
    return items[-1]["id"] if page.get("next") and items else None


def tab_filters(tab: str, project_id: str | None) -> dict:
    """What a tab of the images page (Horizon's tabs) asks the API for."""
    if tab == "project":
        return {"owner": project_id} if project_id else {}
    if tab == "shared":
        return {"visibility": "shared", "member_status": "all"}
    return {"visibility": tab}  # public, community


TABS = ("project", "shared", "public", "community")
# statuses that change by themselves: the pages follow them live
MOVING = ("queued", "saving", "uploading", "importing")


def _message(answer: requests.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:300]
    if isinstance(body, dict):
        for key in ("message", "title"):
            if key in body:
                return str(body[key])
        error = body.get("error") or {}
        if isinstance(error, dict) and "message" in error:
            return str(error["message"])
    return answer.text[:300]
