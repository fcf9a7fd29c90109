"""After lab 2.4: the cache directory, its config and cron jobs; a second download hits."""

import json
import time


def test_directory_and_config(host):
    directory = host.file("/var/lib/glance/image-cache")
    assert (directory.user, directory.group, directory.mode) == ("glance", "glance", 0o750)
    snippet = host.file("/etc/glance/glance-api.conf.d/50-cache.conf")
    assert snippet.contains("^image_cache_dir = /var/lib/glance/image-cache$")
    assert snippet.contains("^image_cache_max_size = 100MB$")


def test_cron_jobs(host):
    cron = host.file("/etc/cron.d/glancelab-cache")
    assert cron.mode == 0o644
    for action in ("prune", "clean", "prefetch"):
        assert cron.contains(f" glance /opt/glancelab/venv/bin/glancelab .* cache {action} ")
    result = host.run("runuser -u glance -- /opt/glancelab/venv/bin/glancelab "
                      "--config /etc/glance/glance-api.conf cache prune")
    assert result.rc == 0, result.stderr


def test_second_download_comes_from_the_cache(host):
    api = f"http://{host.ansible.get_variables()['ansible_host']}:9292"
    image = json.loads(host.check_output(
        f"curl -sf -X POST -H 'Content-Type: application/json' -d '{{\"name\": \"c\"}}' {api}/v2/images"))
    host.check_output(f"curl -sf -X PUT -H 'Content-Type: application/octet-stream' "
                      f"--data-binary lab24-data {api}/v2/images/{image['id']}/file")
    assert host.check_output(f"curl -sf {api}/v2/images/{image['id']}/file") == "lab24-data"
    for _ in range(50):
        cached = json.loads(host.check_output(f"curl -sf {api}/v2/cache"))["cached_images"]
        if cached:
            break
        time.sleep(0.1)
    assert host.check_output(f"curl -sf {api}/v2/images/{image['id']}/file") == "lab24-data"
    cached = json.loads(host.check_output(f"curl -sf {api}/v2/cache"))["cached_images"]
    assert [(c["image_id"], c["hits"]) for c in cached] == [(image["id"], 1)]
    assert host.file(f"/var/lib/glance/image-cache/{image['id']}").user == "glance"
