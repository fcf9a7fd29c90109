"""Per-backend throughput: 1 GiB through the API beside the backend's own client.

For each of file, Swift and S3: upload and download the same bytes through glancelab
(curl on loopback) and directly with the backend's client (a plain file copy with fsync,
python-swiftclient, boto3), in the same run. Prints figures; asserts nothing.

Usage: .venv/bin/python bench/stores_bench.py [--size-mib 1024]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_bench import MB, api_json, curl, make_source  # noqa: E402
from harness import ApiServer, Service, free_port_block  # noqa: E402


def timed(func) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def through_api(server: ApiServer, store: str, source: str) -> tuple[float, float]:
    image = api_json(server, "POST", "/v2/images", {"name": f"bench-{store}"})
    url = f"{server.url}/v2/images/{image['id']}/file"
    code, up = curl("-T", source, "-H", "Content-Type: application/octet-stream",
                    "-H", f"X-Image-Meta-Store: {store}", url)
    assert code == "204", code
    code, down = curl(url)
    assert code == "200", code
    api_json(server, "DELETE", f"/v2/images/{image['id']}")
    return up, down


def direct_file(directory: str, source: str) -> tuple[float, float]:
    target = os.path.join(directory, "direct-copy")

    def write():
        with open(source, "rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)
            dst.flush()
            os.fsync(dst.fileno())

    def read():
        with open(target, "rb") as src:
            while src.read(1024 * 1024):
                pass

    up, down = timed(write), timed(read)
    os.unlink(target)
    return up, down


def direct_swift(env: dict, source: str) -> tuple[float, float]:
    import swiftclient
    conn = swiftclient.Connection(authurl=env["SWIFT_AUTH_URL"], user=env["SWIFT_USER"],
                                  key=env["SWIFT_KEY"])
    conn.put_container("direct")

    def write():
        with open(source, "rb") as src:
            conn.put_object("direct", "obj", contents=src, content_length=os.path.getsize(source),
                            chunk_size=1024 * 1024)

    def read():
        _, body = conn.get_object("direct", "obj", resp_chunk_size=1024 * 1024)
        for _ in body:
            pass

    up, down = timed(write), timed(read)
    conn.delete_object("direct", "obj")
    return up, down


def direct_s3(env: dict, source: str) -> tuple[float, float]:
    import boto3
    s3 = boto3.client("s3", endpoint_url=env["S3_ENDPOINT"], aws_access_key_id=env["S3_ACCESS_KEY"],
                      aws_secret_access_key=env["S3_SECRET_KEY"], region_name="us-east-1")
    try:
        s3.create_bucket(Bucket="direct")
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass  # a second round in the same run
    up = timed(lambda: s3.upload_file(source, "direct", "obj"))

    def read():
        body = s3.get_object(Bucket="direct", Key="obj")["Body"]
        for _ in body.iter_chunks(1024 * 1024):
            pass

    down = timed(read)
    s3.delete_object(Bucket="direct", Key="obj")
    return up, down


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="glancelab-stores-bench-", dir=os.environ.get("BENCH_DIR"))
    os.chmod(work, 0o755)
    s3 = Service("s3", os.path.join(work, "s3"), free_port_block(8)).start()
    swift = Service("swift", os.path.join(work, "swift"), free_port_block(5)).start()
    results = {}
    try:
        source = os.path.join(work, "image.raw")
        make_source(source, args.size_mib * 1024 * 1024)
        size = os.path.getsize(source)
        conf = f"""
            [DEFAULT]
            enabled_backends = file:file, swift:swift, s3:s3
            [glance_store]
            default_backend = file
            [file]
            filesystem_store_datadir = {work}/api/file
            """ + swift.store_section("swift", "glance") + s3.store_section("s3", "glance")
        server = ApiServer(os.path.join(work, "api"), extra_conf=conf)
        server.base_store_conf = False
        server.start(timeout=60)
        try:
            directs = {"file": lambda: direct_file(os.path.join(work, "api", "file"), source),
                       "swift": lambda: direct_swift(swift.env, source),
                       "s3": lambda: direct_s3(s3.env, source)}
            for store, direct in directs.items():
                d_up, d_down = direct()
                a_up, a_down = through_api(server, store, source)
                results[store] = {
                    "direct_upload_MBps": round(size / d_up / MB),
                    "api_upload_MBps": round(size / a_up / MB),
                    "upload_ratio": round(d_up / a_up, 2),
                    "direct_download_MBps": round(size / d_down / MB),
                    "api_download_MBps": round(size / a_down / MB),
                    "download_ratio": round(d_down / a_down, 2),
                }
        finally:
            server.stop()
    finally:
        s3.stop()
        swift.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"size_mib": args.size_mib, **results}, indent=2))


if __name__ == "__main__":
    main()
