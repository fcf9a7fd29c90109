"""Helpers for the labs' checks (testinfra, run on each lab host)."""

import json

import pytest


class Api:
    """curl on the lab host against its own API: what a trainee would type."""

    def __init__(self, host):
        self.host = host
        self.url = f"http://{host.ansible.get_variables()['ansible_host']}:9292"

    def json(self, path: str, *curl_args: str):
        result = self.host.run("curl -s -f " + " ".join(curl_args) + f" '{self.url}{path}'")
        assert result.rc == 0, (f"GET {path} failed on {self.host.backend.hostname}: is "
                                "glancelab-api running? Try: /etc/init.d/glancelab-api status")
        return json.loads(result.stdout)

    def create_image(self, name: str, project: str = "admin") -> str:
        return json.loads(self.host.check_output(
            f"curl -s -X POST -H 'Content-Type: application/json' -H 'X-Project-Id: {project}' "
            f"-H 'X-Roles: member,reader' -d '{{\"name\": \"{name}\"}}' {self.url}/v2/images"))["id"]

    def upload(self, image_id: str, source: str, project: str = "admin", store: str = "") -> str:
        """HTTP status of uploading `source` (a shell expression giving bytes)."""
        store_header = f"-H 'X-Image-Meta-Store: {store}'" if store else ""
        return self.host.check_output(
            f"{source} | curl -s -o /dev/null -w '%{{http_code}}' -X PUT {store_header} "
            f"-H 'X-Project-Id: {project}' -H 'X-Roles: member,reader' "
            f"-H 'Content-Type: application/octet-stream' --data-binary @- "
            f"{self.url}/v2/images/{image_id}/file")

    def download(self, image_id: str) -> str:
        return self.host.check_output(f"curl -s -f {self.url}/v2/images/{image_id}/file | md5sum")[:32]


@pytest.fixture
def api(host):
    return Api(host)
