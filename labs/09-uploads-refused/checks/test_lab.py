"""Lab 3.1 checks: uploads work again, and the image that existed still downloads as it was."""

from conftest import (check, expect, expect_a_directory_of_glance, expect_downloads_byte_exact,
                      need)

from glancelab_toolkit.i18n import _

STORE = "/var/lib/glance/images"
SAMPLE = "lab-3.1-sample"


@check(title=_("the store directory is glance's again, mode 0750"))
def test_the_store_directory_is_glances(host):
    expect_a_directory_of_glance(host, STORE, _("the store's directory is "
                                                "filesystem_store_datadir"))


@check(title=_("an upload works again"))
def test_an_upload_works_again(host, api):
    image_id = api.create_image("lab-3.1-new")
    try:
        status, message = api.upload(image_id, "echo lab31")
        need(status == 204, _("uploading answered {status}: {message}").format(
                 status=status, message=message),
             f"chown glance:glance {STORE} && chmod 0750 {STORE}",
             _("read the answer's message; `tail /var/log/glance/api.log` says more"))
        expect(host.file(f"{STORE}/{image_id}").user == "glance",
               _("the new image's file does not belong to glance"), "",
               _("`ls -l {path}`").format(path=STORE))
    finally:
        api.delete(image_id)


@check(title=_("the image that existed still downloads, its bytes unchanged"))
def test_the_image_that_existed_still_downloads(api):
    expect_downloads_byte_exact(api, SAMPLE, b"the bytes of lab 3.1")
