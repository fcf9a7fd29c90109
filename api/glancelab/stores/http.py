"""Read-only HTTP(S) backend: image data that stays at a web address."""

from __future__ import annotations

import http.client
from typing import Iterable, Iterator
from urllib.parse import urlparse

from glancelab.stores.base import ReadHandle, Store, Stored
from glancelab.stores.errors import StoreError, StoreUnavailable

READ_CHUNK = 1024 * 1024


class HttpStore(Store):
    type = "http"
    writable = False
    url_schemes = ("http", "https")


    @classmethod
    def from_options(cls, store_id: str, group, description: str) -> "HttpStore":
        return cls(store_id, description)

    def write(self, image_id: str, chunks: Iterable[bytes], size_hint, holder) -> Stored:
        raise StoreError(f"store {self.id!r} is read-only (http): upload to another store")

    def open(self, url: str, offset: int = 0, length: int | None = None) -> ReadHandle:
        parsed = urlparse(url)
        connection_class = (http.client.HTTPSConnection if parsed.scheme == "https"
                            else http.client.HTTPConnection)
        connection = connection_class(parsed.hostname, parsed.port, timeout=30)
        path = parsed.path or "/"
        if parsed.query:
            path += f"?{parsed.query}"
        headers = {}
        if offset or length is not None:
            end = "" if length is None else str(offset + length - 1)
            headers["Range"] = f"bytes={offset}-{end}"
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
        except OSError as exc:
            connection.close()
            raise StoreUnavailable(f"store {self.id!r}: {parsed.netloc} is unreachable: {exc}") from exc
        if response.status not in (200, 206):
            connection.close()
            raise StoreError(f"store {self.id!r}: GET {url} answered {response.status} "
                             f"{response.reason}")
        if offset and response.status == 200:
            connection.close()
            raise StoreError(f"store {self.id!r}: {parsed.netloc} does not serve byte ranges")
        size = int(response.getheader("Content-Length", "0"))
        return ReadHandle(length=size, chunks=_stream(response, connection),
                          closer=connection.close)

    def size_of(self, url: str) -> int:
        handle = self.open(url)
        handle.close()  # the length comes from the headers; no body is read
        return handle.length

    def delete(self, url: str) -> None:
        """The data belongs to the web server: dropping the location is all there is to do."""


def _stream(response, connection) -> Iterator[bytes]:
    try:
        while chunk := response.read(READ_CHUNK):
            yield chunk
    finally:
        connection.close()
