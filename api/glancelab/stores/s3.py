"""S3 backend (boto3), configured with Glance's s3_store_* keys.

Objects up to s3_store_large_object_size go up in one PUT; larger ones as a multipart
upload of s3_store_large_object_chunk_size parts, s3_store_thread_pools of them in flight
at once (memory per upload: that many parts plus the one being cut). The object
exists only once the upload completes, and a failed upload is aborted, so nothing
half-written stays in the bucket: an abort S3 cannot take now (an outage) or that a dead
process never sent waits in the undo log (stores/undo.py) until it can.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import os
from typing import Iterable
from urllib.parse import urlparse

from glancelab.stores.base import ReadHandle, Store, Stored, is_image_id, required_options
from glancelab.stores.errors import StoreError, StoreUnavailable
from glancelab.stores.chunking import Pieces, read_up_to

MiB = 1024 * 1024
READ_CHUNK = MiB


class S3Store(Store):
    type = "s3"
    url_schemes = ("s3", "s3+http", "s3+https")

    @classmethod
    def from_options(cls, store_id: str, group, description: str) -> "S3Store":
        host, access, secret, bucket = required_options(
            store_id, group, "s3_store_host", "s3_store_access_key", "s3_store_secret_key",
            "s3_store_bucket")
        return cls(
            store_id, host, access, secret, bucket,
            create_bucket_on_put=group.s3_store_create_bucket_on_put,
            large_object_size=group.s3_store_large_object_size * MiB,
            chunk_size=group.s3_store_large_object_chunk_size * MiB,
            region=group.s3_store_region_name or "us-east-1",
            addressing_style=group.s3_store_bucket_url_format,
            parts_in_flight=group.s3_store_thread_pools,
            description=description)

    def __init__(self, store_id: str, host: str, access_key: str, secret_key: str, bucket: str,
                 create_bucket_on_put: bool = False, large_object_size: int = 100 * MiB,
                 chunk_size: int = 10 * MiB, region: str = "us-east-1",
                 addressing_style: str = "auto", parts_in_flight: int = 10,
                 description: str = ""):
        super().__init__(store_id, description)
        if not host.startswith(("http://", "https://")):
            host = f"https://{host}"
        self.host = host.rstrip("/")
        self.access_key, self.secret_key = access_key, secret_key
        self.bucket = bucket
        self.create_bucket_on_put = create_bucket_on_put
        self.large_object_size = large_object_size
        self.chunk_size = max(chunk_size, 5 * MiB)  # S3's smallest part
        self.region = region
        # s3_store_thread_pools: parts sent at once; each upload holds at most this many
        # parts plus the one being cut.
        self.parts_in_flight = parts_in_flight
        self.addressing_style = "path" if addressing_style == "auto" else addressing_style
        self._client = None
        self._client_pid = None
        self._bucket_ready = False

    @property
    def client(self):
        # One client per process: a client made before gunicorn forks must not be shared.
        if self._client is None or self._client_pid != os.getpid():
            import boto3
            from botocore.config import Config
            self._client = boto3.client(
                "s3", endpoint_url=self.host, aws_access_key_id=self.access_key,
                aws_secret_access_key=self.secret_key, region_name=self.region,
                config=Config(connect_timeout=5, read_timeout=60,
                              retries={"max_attempts": 2, "mode": "standard"},
                              s3={"addressing_style": self.addressing_style},
                              # no extra CRC per part: the upload path hashes the stream
                              request_checksum_calculation="when_required",
                              max_pool_connections=self.parts_in_flight + 8))
            self._client_pid = os.getpid()
        return self._client

    # -- errors ------------------------------------------------------------------------------
    def _error(self, exc: Exception, doing: str) -> StoreError:
        from botocore.exceptions import ClientError, ConnectionError as BotoConnectionError
        from botocore.exceptions import HTTPClientError
        if isinstance(exc, StoreError):
            return exc
        where = f"store {self.id!r} (s3 at {self.host}, bucket {self.bucket})"
        if isinstance(exc, (BotoConnectionError, HTTPClientError)):  # refused, reset, timed out
            return StoreUnavailable(f"{where} is unreachable while {doing}: {exc}")
        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied") or status == 403:
                return StoreError(f"{where} rejected the credentials while {doing}: check "
                                  "s3_store_access_key and s3_store_secret_key")
            if code in ("NoSuchBucket",):
                return StoreError(f"{where}: the bucket does not exist; create it or set "
                                  "s3_store_create_bucket_on_put = true")
            if status >= 500:
                return StoreUnavailable(f"{where} failed while {doing}: {code} ({status})")
            return StoreError(f"{where} refused {doing}: {code} ({status})")
        return StoreError(f"{where} failed while {doing}: {exc}")

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        from botocore.exceptions import ClientError
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status != 404 or not self.create_bucket_on_put:
                raise
            try:
                self.client.create_bucket(Bucket=self.bucket)
            except ClientError as create_error:
                # Another API node created it first: that is what we wanted.
                code = create_error.response.get("Error", {}).get("Code", "")
                if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
        self._bucket_ready = True

    # -- writing -----------------------------------------------------------------------------
    def write(self, image_id: str, chunks: Iterable[bytes], size_hint: int | None,
              holder: str) -> Stored:
        try:
            self._ensure_bucket()
        except Exception as exc:
            raise self._error(exc, "preparing the bucket") from exc
        stream = iter(chunks)
        head, overflow = read_up_to(stream, min(self.large_object_size, self.chunk_size))
        if not overflow:  # the whole image fitted under the large-object size
            stored = self._put_single(image_id, head)
        else:
            stored = self._put_multipart(image_id, itertools.chain([head, overflow], stream),
                                         holder)
        self.undo_log.store_is_back(self)
        return stored

    def _put_single(self, key: str, body: bytes) -> Stored:
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=body)
        except Exception as exc:
            raise self._error(exc, f"writing {key}") from exc
        return Stored(url=self._url(key), size=len(body))

    def _put_multipart(self, key: str, stream: Iterable[bytes], holder: str) -> Stored:
        try:
            upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        except Exception as exc:
            raise self._error(exc, f"starting the upload of {key}") from exc
        # Its parts take room until it completes or is aborted: keep the abort owed.
        record = self.undo_log.begin(self.id, f"{self.bucket}/{key}", upload_id, holder)
        size = 0
        in_flight: list[concurrent.futures.Future] = []
        parts: list[dict] = []
        try:
            with concurrent.futures.ThreadPoolExecutor(self.parts_in_flight) as pool:
                for number, piece in enumerate(Pieces(stream, self.chunk_size), start=1):
                    body = b"".join(piece)
                    size += len(body)
                    # Bounded memory: at most parts_in_flight parts wait for the network.
                    while len(in_flight) >= self.parts_in_flight:
                        parts.append(in_flight.pop(0).result())
                    in_flight.append(pool.submit(self._upload_part, key, upload_id, number, body))
                parts.extend(future.result() for future in in_flight)
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id,
                MultipartUpload={"Parts": parts})
        except BaseException as exc:
            for future in in_flight:
                future.cancel()
            try:
                self.undo(f"{self.bucket}/{key}", upload_id)
                self.undo_log.done(record)
            except StoreError:  # S3 is away: the abort waits in the log for its return
                self.undo_log.stuck(self, record)
            if _is_botocore(exc):
                raise self._error(exc, f"writing {key}") from exc
            raise
        self.undo_log.done(record)
        return Stored(url=self._url(key), size=size)

    def _upload_part(self, key: str, upload_id: str, number: int, body: bytes) -> dict:
        response = self.client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                           PartNumber=number, Body=body)
        return {"ETag": response["ETag"], "PartNumber": number}

    # -- reading and deleting ----------------------------------------------------------------
    def _url(self, key: str) -> str:
        scheme = "s3+https" if self.host.startswith("https") else "s3+http"
        return f"{scheme}://{urlparse(self.host).netloc}/{self.bucket}/{key}"

    @staticmethod
    def _split(url: str) -> tuple[str, str]:
        bucket, _, key = urlparse(url).path.lstrip("/").partition("/")
        return bucket, key

    def open(self, url: str, offset: int = 0, length: int | None = None) -> ReadHandle:
        bucket, key = self._split(url)
        try:
            if length is None:
                length = self.client.head_object(Bucket=bucket, Key=key)["ContentLength"] - offset
            if length <= 0:
                return ReadHandle(length=0, chunks=iter(()))
            response = self.client.get_object(Bucket=bucket, Key=key,
                                              Range=f"bytes={offset}-{offset + length - 1}")
        except Exception as exc:
            raise self._error(exc, f"reading {key}") from exc
        return ReadHandle(length=length, chunks=response["Body"].iter_chunks(READ_CHUNK))

    def undo(self, key: str, ref: str) -> None:
        """Abort the multipart upload `ref` of bucket/object `key`: its parts go."""
        from botocore.exceptions import ClientError
        bucket, _, name = key.partition("/")
        try:
            self.client.abort_multipart_upload(Bucket=bucket, Key=name, UploadId=ref)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":  # gone already
                raise self._error(exc, f"aborting the upload of {name}") from exc
        except Exception as exc:
            raise self._error(exc, f"aborting the upload of {name}") from exc

    def delete(self, url: str) -> None:
        bucket, key = self._split(url)
        try:
            self.client.delete_object(Bucket=bucket, Key=key)
        except Exception as exc:
            raise self._error(exc, f"deleting {key}") from exc

    def check(self) -> None:
        try:
            self._ensure_bucket()
        except Exception as exc:
            raise self._error(exc, "checking the bucket") from exc

    def properties(self) -> dict:
        return {"s3_store_host": self.host, "s3_store_bucket": self.bucket,
                "s3_store_large_object_size": self.large_object_size // MiB,
                "s3_store_large_object_chunk_size": self.chunk_size // MiB}

    def owns(self, url: str) -> bool:
        parsed = urlparse(url)
        bucket, key = self._split(url)
        # Only the objects it writes (named by image id): a registered object is only read.
        return (parsed.scheme in self.url_schemes and parsed.netloc == urlparse(self.host).netloc
                and bucket == self.bucket and is_image_id(key))


def _is_botocore(exc: BaseException) -> bool:
    return type(exc).__module__.startswith(("botocore", "urllib3"))
