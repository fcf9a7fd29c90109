"""After lab 2.7: Glance's default backend is a Ceph pool."""

import json


def _api(host):
    return f"http://{host.ansible.get_variables()['ansible_host']}:9292"


def test_ceph_files_are_readable_by_glance_only(host):
    for path in ("/etc/ceph/ceph.conf", "/etc/ceph/ceph.client.glance.keyring"):
        conf = host.file(path)
        assert (conf.user, conf.group, conf.mode) == ("root", "glance", 0o640), path
    assert host.file("/etc/ceph/ceph.client.glance.keyring").contains("^\\[client.glance\\]$")


def test_config(host):
    snippet = host.file("/etc/glance/glance-api.conf.d/40-ceph.conf")
    assert snippet.contains("^enabled_backends = ceph:rbd$")
    assert snippet.contains("^default_backend = ceph$")
    assert snippet.contains("^rbd_store_pool = images$")
    assert snippet.contains("^rbd_store_ceph_conf = /etc/ceph/ceph.conf$")


def test_upload_is_a_protected_snapshot_in_the_pool(host):
    api = _api(host)
    image = json.loads(host.check_output(
        f"curl -sf -X POST -H 'Content-Type: application/json' -d '{{\"name\": \"c\"}}' {api}/v2/images"))
    host.check_output(f"curl -sf -X PUT -H 'Content-Type: application/octet-stream' "
                      f"--data-binary lab27 {api}/v2/images/{image['id']}/file")
    rbd = "rbd -c /etc/ceph/ceph.conf --id glance -p images"
    assert image["id"] in host.check_output(f"{rbd} ls").split()
    snaps = json.loads(host.check_output(f"{rbd} snap ls --format json {image['id']}"))
    assert [s["name"] for s in snaps] == ["snap"]
    assert json.loads(host.check_output(f"{rbd} info --format json {image['id']}@snap"))["protected"] == "true"
    assert host.check_output(f"curl -sf {api}/v2/images/{image['id']}/file") == "lab27"
    host.check_output(f"curl -sf -X DELETE {api}/v2/images/{image['id']}")
    assert image["id"] not in host.check_output(f"{rbd} ls").split()
