"""/v2/images/{id}/file: upload and download."""

from __future__ import annotations

import falcon

from glancelab import errors
from glancelab.runtime import Runtime
from glancelab.images import data
from glancelab.images.receive import IMAGE_SIZE_HEADER


class ImageData:
    def __init__(self, rt: Runtime):
        self.rt = rt

    def on_put(self, req: falcon.Request, resp: falcon.Response, image_id: str) -> None:
        media_type = (req.content_type or "application/octet-stream").split(";")[0].strip()
        if media_type.lower() != "application/octet-stream":
            raise errors.UnsupportedMedia(f"Unsupported Content-Type {media_type}: image data "
                                          "is sent as application/octet-stream.")
        data.upload(self.rt, req.context.auth, image_id, req.stream, req.content_length,
                    req.get_header("X-Image-Meta-Store"),
                    req.get_header(IMAGE_SIZE_HEADER))
        resp.status = falcon.HTTP_204

    def on_get(self, req: falcon.Request, resp: falcon.Response, image_id: str) -> None:
        download = data.open_download(self.rt, req.context.auth, image_id, _byte_range(req),
                                      req.get_param("prefer"))
        if download.handle is None:
            resp.status = falcon.HTTP_204
            return
        handle, image = download.handle, download.image
        resp.content_type = "application/octet-stream"
        resp.content_length = handle.length
        if download.partial:
            resp.status = falcon.HTTP_206
            resp.set_header("Content-Range",
                            f"bytes {download.first}-{download.last}/{image.size}")
        elif image.checksum:
            resp.set_header("Content-MD5", image.checksum)
        # A real file goes out through the WSGI server's sendfile (wsgi.file_wrapper).
        # Anything else as a plain generator: Falcon reads an object that has read() (a
        # swiftclient body) 64 KiB at a time, which cost a ranged Swift download half its
        # speed; a generator passes the store's 1 MiB chunks on as they come.
        resp.stream = handle.file if handle.file is not None else handle.iter_chunks()


def _byte_range(req: falcon.Request) -> tuple[int, int] | None:
    """The Range header through Falcon's parser; Glance answers only single byte ranges."""
    header = req.get_header("Range")
    if header is None:
        return None
    if header.replace(" ", "") == "bytes=-0":
        return data.NO_BYTES  # Falcon refuses it as malformed; HTTP calls it unsatisfiable
    try:
        byte_range, unit = req.range, req.range_unit
    except falcon.HTTPInvalidHeader as exc:
        raise errors.bad_request(f"Invalid Range header {header!r}: {exc.description} Use "
                                 "a single range such as bytes=0-1023, bytes=1024- or "
                                 "bytes=-512.") from None
    if unit != "bytes":
        raise errors.bad_request(f"Invalid Range header {header!r}: only bytes ranges are "
                                 "served.")
    return byte_range


def add_routes(app: falcon.App, rt: Runtime) -> None:
    for path, resource in (
            ("/v2/images/{image_id}/file", ImageData(rt)),
    ):
        app.add_route(path, resource)
