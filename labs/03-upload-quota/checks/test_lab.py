"""Lab 2.3 checks: an upload over the quota gets 413; one within it succeeds."""

import uuid

from conftest import SERVICE, check, expect, need, set_then_restart, setting

from glancelab_toolkit.i18n import _

MB = 1024 * 1024
FIX = set_then_restart("user_storage_quota = 10MB", "[DEFAULT]")


@check(step=2, title=_("glancelab reads a quota of 10 MB"))
def test_glancelab_reads_a_10mb_quota(host):
    value = setting(host, "DEFAULT", "user_storage_quota")
    expect(value.upper().replace(" ", "") in ("10MB", str(10 * MB)),
           _("user_storage_quota is {value}").format(value=value or _("unset")), FIX,
           _("`glancelab config get DEFAULT user_storage_quota` shows the value that counts; "
             "sizes are written 10MB (Glance's units: B, KB, MB, GB, TB)"))


@check(step=4, title=_("an upload over the quota is refused with 413"))
def test_an_upload_over_the_quota_is_refused_with_413(api):
    project = f"trainee-{uuid.uuid4().hex[:6]}"
    image_id = api.create_image("lab-2.3-too-big", project)
    status, message = api.upload(image_id, f"head -c {10 * MB + 1} /dev/zero", project)
    api.delete(image_id)
    expect(status == 413, _("an upload of 10 MB + 1 byte answered {status}, not 413: the "
                            "quota is not enforced by the running API").format(status=status),
           FIX, _("the API reads its configuration when it starts"))


@check(step=4, title=_("an upload of exactly the quota succeeds"))
def test_an_upload_of_exactly_the_quota_succeeds(api):
    project = f"trainee-{uuid.uuid4().hex[:6]}"
    image_id = api.create_image("lab-2.3-fits", project)
    status, message = api.upload(image_id, f"head -c {10 * MB} /dev/zero", project)
    api.delete(image_id)
    need(status == 204, _("an upload of exactly 10 MB answered {status} ({message})").format(
             status=status, message=message),
         _("user_storage_quota is the most a project may store: set it to 10MB, not less"),
         _("the quota is the most a project may store, this upload included"))
    limits = setting(api.host, "DEFAULT", "user_storage_quota")
    expect(limits not in ("", "0"), _("the upload passed because no quota is set"), FIX,
           _("0 (the default) means no limit"))


@check(step=5, title=_("per-project limits are on"))
def test_per_project_limits_are_on(host, api):
    value = setting(host, "DEFAULT", "use_keystone_limits")
    if not expect(value.lower() == "true",
                  _("use_keystone_limits is {value}: per-project limits are off and "
                    "/v2/info/usage is empty").format(value=value or _("unset")),
                  set_then_restart("use_keystone_limits = true", "[DEFAULT]"),
                  _("per-project limits are read when use_keystone_limits is true")):
        return
    usage = api.json("/v2/info/usage", project="demo")["usage"]
    expect("image_size_total" in usage, _("the running API shows no usage: it did not reread "
           "the configuration"), f"{SERVICE} restart",
           _("the API reads its configuration when it starts"))
