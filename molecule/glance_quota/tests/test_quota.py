"""After lab 2.3: an upload over the quota gets 413, one within it succeeds."""

import json


def api(host):
    return f"http://{host.ansible.get_variables()['ansible_host']}:9292"


def new_image(host, project):
    return json.loads(host.check_output(
        f"curl -sf -X POST -H 'X-Project-Id: {project}' -H 'X-Roles: member' "
        f"-H 'Content-Type: application/json' -d '{{\"name\": \"q\"}}' {api(host)}/v2/images"))["id"]


def upload(host, project, image_id, size):
    return host.check_output(
        f"head -c {size} /dev/zero | curl -s -o /dev/null -w '%{{http_code}}' -X PUT "
        f"-H 'X-Project-Id: {project}' -H 'X-Roles: member' -H 'Content-Type: application/octet-stream' "
        f"--data-binary @- {api(host)}/v2/images/{image_id}/file")


def test_config(host):
    snippet = host.file("/etc/glance/glance-api.conf.d/40-quota.conf")
    assert snippet.contains("^user_storage_quota = 1MB$")
    assert snippet.contains("^use_keystone_limits = true$")


def test_over_quota_is_413_and_within_succeeds(host):
    over = new_image(host, "trainee-a")
    assert upload(host, "trainee-a", over, 1024 * 1024 + 1) == "413"
    within = new_image(host, "trainee-a")
    assert upload(host, "trainee-a", within, 1024 * 1024) == "204"


def test_project_limit_set(host):
    limits = json.loads(host.check_output(
        f"curl -sf -H 'X-Roles: admin' {api(host)}/v2/quotas/lab-project"))["limits"]
    assert limits["image_count_total"] == 5
