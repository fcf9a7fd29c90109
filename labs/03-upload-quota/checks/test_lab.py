"""Lab 2.3 checks: an upload over the quota gets 413; one within it succeeds."""

import uuid

MB = 1024 * 1024


def test_quota_is_configured(host):
    result = host.run("grep -rh '^user_storage_quota' /etc/glance/glance-api.conf.d/")
    assert "user_storage_quota = 10MB" in result.stdout, (
        "set user_storage_quota = 10MB in [DEFAULT] and restart glancelab-api")


def test_upload_over_the_quota_is_refused_with_413(api):
    project = f"trainee-{uuid.uuid4().hex[:6]}"
    image_id = api.create_image("lab-2.3-too-big", project)
    status = api.upload(image_id, f"head -c {10 * MB + 1} /dev/zero", project)
    assert status == "413", f"got {status}: the quota is not enforced; check user_storage_quota"
    assert api.json(f"/v2/images/{image_id}", f"-H 'X-Project-Id: {project}'")["status"] == "queued"


def test_upload_within_the_quota_succeeds(api):
    project = f"trainee-{uuid.uuid4().hex[:6]}"
    image_id = api.create_image("lab-2.3-fits", project)
    status = api.upload(image_id, f"head -c {10 * MB} /dev/zero", project)
    assert status == "204", f"got {status}: an upload of exactly the quota must succeed"
