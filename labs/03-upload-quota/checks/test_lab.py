"""Lab 2.3 checks: an upload over the quota gets 413; one within it succeeds."""

import uuid

from conftest import SERVICE, expect, setting

MB = 1024 * 1024
FIX = f"set user_storage_quota = 10MB in [DEFAULT] of /etc/glance/glance-api.conf, then {SERVICE} restart"


def test_glancelab_reads_a_10mb_quota(host):
    value = setting(host, "DEFAULT", "user_storage_quota")
    expect(value.upper().replace(" ", "") in ("10MB", str(10 * MB)),
           f"user_storage_quota is {value or 'unset'}", FIX)


def test_an_upload_over_the_quota_is_refused_with_413(api):
    project = f"trainee-{uuid.uuid4().hex[:6]}"
    image_id = api.create_image("lab-2.3-too-big", project)
    status, message = api.upload(image_id, f"head -c {10 * MB + 1} /dev/zero", project)
    api.delete(image_id)
    expect(status == 413, f"an upload of 10 MB + 1 byte answered {status}, not 413: the quota "
                          "is not enforced by the running API", FIX)


def test_an_upload_of_exactly_the_quota_succeeds(api):
    project = f"trainee-{uuid.uuid4().hex[:6]}"
    image_id = api.create_image("lab-2.3-fits", project)
    status, message = api.upload(image_id, f"head -c {10 * MB} /dev/zero", project)
    api.delete(image_id)
    expect(status == 204, f"an upload of exactly 10 MB answered {status} ({message})",
           "user_storage_quota is the most a project may store: set it to 10MB, not less")
    limits = setting(api.host, "DEFAULT", "user_storage_quota")
    expect(limits not in ("", "0"), "the upload passed because no quota is set", FIX)


def test_per_project_limits_are_on(host, api):
    value = setting(host, "DEFAULT", "use_keystone_limits")
    expect(value.lower() == "true", f"use_keystone_limits is {value or 'unset'}: per-project "
           "limits are off and /v2/info/usage is empty",
           f"set use_keystone_limits = true in [DEFAULT], then {SERVICE} restart")
    usage = api.json("/v2/info/usage", project="demo")["usage"]
    expect("image_size_total" in usage, "the running API shows no usage: it did not reread "
           "the configuration", f"{SERVICE} restart")
