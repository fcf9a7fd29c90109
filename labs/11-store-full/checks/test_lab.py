"""Lab 3.3 checks: an upload fits again, and no image lost its data."""

from conftest import check, expect_downloads_byte_exact, need

from glancelab_toolkit.i18n import _

STORE = "/var/lib/glance/images"


@check(title=_("an upload of 2 MiB fits in the store again"))
def test_an_upload_fits_again(api):
    image_id = api.create_image("lab-3.3-new")
    try:
        status, message = api.upload(image_id, "head -c 2097152 /dev/urandom")
        need(status == 204, _("uploading 2 MiB answered {status}: {message}").format(
                 status=status, message=message),
             f"rm {STORE}/backup-2026-12-05.tar   " + _("(not an image: no image id names it)"),
             _("`df -h {path}` and `ls -l {path}`: what fills it, and is it an image?").format(
                 path=STORE))
    finally:
        api.delete(image_id)


@check(title=_("the image that existed still downloads, its bytes unchanged"))
def test_the_image_that_existed_still_downloads(api):
    expect_downloads_byte_exact(api, "lab-3.3-sample", b"the bytes of lab 3.3")
