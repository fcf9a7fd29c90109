"""After lab 2.2: two file backends, each with its own directory."""

import json


def test_directories(host):
    for name in ("fast", "cheap"):
        directory = host.file(f"/var/lib/glance/{name}")
        assert (directory.user, directory.group, directory.mode) == ("glance", "glance", 0o750)


def test_config(host):
    snippet = host.file("/etc/glance/glance-api.conf.d/30-backends.conf")
    assert snippet.contains("^enabled_backends = fast:file, cheap:file$")
    assert snippet.contains("^default_backend = fast$")
    assert snippet.contains("^filesystem_store_datadir = /var/lib/glance/cheap$")


def test_upload_lands_in_the_chosen_backend(host):
    api = f"http://{host.ansible.get_variables()['ansible_host']}:9292"
    stores = json.loads(host.check_output(f"curl -sf {api}/v2/info/stores"))["stores"]
    assert [s["id"] for s in stores] == ["fast", "cheap"] and stores[0]["default"] == "true"
    image = json.loads(host.check_output(
        f"curl -sf -X POST -H 'Content-Type: application/json' -d '{{\"name\": \"b\"}}' {api}/v2/images"))
    host.check_output(f"curl -sf -X PUT -H 'Content-Type: application/octet-stream' "
                      f"-H 'X-Image-Meta-Store: cheap' --data-binary lab22 {api}/v2/images/{image['id']}/file")
    stored = host.file(f"/var/lib/glance/cheap/{image['id']}")
    assert stored.exists and stored.user == "glance"
    assert json.loads(host.check_output(f"curl -sf {api}/v2/images/{image['id']}"))["stores"] == "cheap"
