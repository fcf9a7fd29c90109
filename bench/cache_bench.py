"""Cached against uncached download of a store-backed (S3) image, in the same run.

Prints figures; asserts nothing. Usage: .venv/bin/python bench/cache_bench.py [--size-mib 1024]
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
from api_bench import MB, RssSampler, api_json, curl, make_source  # noqa: E402
from harness import ApiServer, Service, free_port_block  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="glancelab-cache-bench-", dir=os.environ.get("BENCH_DIR"))
    s3 = Service("s3", os.path.join(work, "s3"), free_port_block(8)).start()
    try:
        source = os.path.join(work, "image.raw")
        make_source(source, args.size_mib * 1024 * 1024)
        size = os.path.getsize(source)
        server = ApiServer(os.path.join(work, "api"), extra_conf=f"""
            [DEFAULT]
            enabled_backends = s3:s3
            image_cache_dir = {work}/cache
            image_cache_max_size = 4GB
            [glance_store]
            default_backend = s3
            """ + s3.store_section("s3", "glance"))
        server.base_store_conf = False
        server.start(timeout=60)
        try:
            image = api_json(server, "POST", "/v2/images", {"name": "cache-bench"})
            url = f"{server.url}/v2/images/{image['id']}/file"
            code, _ = curl("-T", source, "-H", "Content-Type: application/octet-stream", url)
            assert code == "204", code
            with RssSampler(server.process.pid) as first_rss:
                _, first = curl(url)  # from S3, teed into the cache
            deadline = time.monotonic() + 60
            while not api_json(server, "GET", "/v2/cache")["cached_images"]:
                assert time.monotonic() < deadline, "the image was not cached"
                time.sleep(0.1)
            with RssSampler(server.process.pid) as cached_rss:
                cached = min(curl(url)[1] for _ in range(3))  # from the cache, sendfile
        finally:
            server.stop()
    finally:
        s3.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({
        "size_mib": args.size_mib,
        "uncached_first_download_MBps (S3, teed into the cache)": round(size / first / MB),
        "cached_download_MBps (best of 3)": round(size / cached / MB),
        "first_download_peak_rss_MiB": round(first_rss.peak_kib / 1024, 1),
        "cached_download_peak_rss_MiB": round(cached_rss.peak_kib / 1024, 1),
    }, indent=2))


if __name__ == "__main__":
    main()
