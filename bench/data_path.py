"""The data path against the machine's own ceilings, all measured in one run.

On the same disk: the `dd` copy with fsync (the disk's ceiling), md5 then sha512 on one
core (what a naive upload costs) and beside each other on two cores, the least an HTTP
image server can do here (ceilings.py: curl to a receiver that hashes, writes and fsyncs,
and from a sendfile), an upload to the file store, its first download with
the image cache on (served while the cache fills) and a cached download; S3, Swift and
rbd uploads and downloads through the API (a first download with the cache filling, and
the whole image as one range, which the cache leaves alone) beside the same transfer
made with boto3, python-swiftclient and librbd directly on the project's own servers
(one-node Ceph for rbd), with the API's peak RSS during them; the API's peak RSS for a
small and a large image. Each figure (the median of three tries) is printed as a ratio
to its ceiling with the issue's target. Asserts nothing.

Usage: .venv/bin/python bench/data_path.py [--size-mib 1024] [--rss-sizes-mib 256,2048]
       [--no-object-stores | --object-stores s3,swift,rbd]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_bench import MB, RssSampler, api_json, curl, disk_ceiling, make_source  # noqa: E402
from ceilings import MinimalServer  # noqa: E402
from harness import ApiServer, Service, free_port_block  # noqa: E402

MiB = 1024 * 1024
# A virtual machine's disk and CPU vary from one second to the next (a host's write
# cache can make one dd run five times faster than the next): every figure, the
# ceilings too, is the median of ROUNDS tries.
ROUNDS = 3


def rate(size: int, seconds: list[float]) -> float:
    """MB/s of the median of several timed runs."""
    return size / statistics.median(seconds) / MB


def digest_seconds(source: str) -> float:
    """md5 and then sha512 over the file, one after the other on one core."""
    md5, sha512 = hashlib.md5(usedforsecurity=False), hashlib.sha512()
    start = time.perf_counter()
    with open(source, "rb") as handle:
        while chunk := handle.read(MiB):
            md5.update(chunk)
            sha512.update(chunk)
    return time.perf_counter() - start


def dd_seconds(directory: str, source: str) -> float:
    return os.path.getsize(source) / disk_ceiling(directory, source) / MB


def timed(func) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


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


def direct_rbd(env: dict, source: str) -> tuple[float, float]:
    """The same image written and read with librbd alone, in the store's 8 MiB objects."""
    import rados
    import rbd
    chunk = 8 * MiB
    size = os.path.getsize(source)
    cluster = rados.Rados(conffile=env["RBD_STORE_CEPH_CONF"], rados_id=env["RBD_STORE_USER"])
    cluster.connect(timeout=10)
    try:
        with cluster.open_ioctx(env["RBD_STORE_POOL"]) as ioctx:
            def write():
                rbd.RBD().create(ioctx, "direct", size, order=23, old_format=False,
                                 features=rbd.RBD_FEATURE_LAYERING)
                with rbd.Image(ioctx, "direct") as image, open(source, "rb") as src:
                    offset = 0
                    while data := src.read(chunk):
                        image.write(data, offset)
                        offset += len(data)

            def read():
                with rbd.Image(ioctx, "direct", read_only=True) as image:
                    for offset in range(0, size, chunk):
                        image.read(offset, min(chunk, size - offset))

            up, down = timed(write), timed(read)
            rbd.RBD().remove(ioctx, "direct")
    finally:
        cluster.shutdown()
    return up, down


def two_core_digest_seconds(source: str) -> float:
    """md5 and sha512 over the file at once, each in its own thread (two cores)."""
    def digest(algorithm):
        with open(source, "rb") as handle:
            while chunk := handle.read(MiB):
                algorithm.update(chunk)
    start = time.perf_counter()
    threads = [threading.Thread(target=digest, args=(algorithm,)) for algorithm in
               (hashlib.md5(usedforsecurity=False), hashlib.sha512())]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start


def minimal_server(work: str, source: str) -> dict:
    """Upload and download through the least an HTTP image server must do (ceilings.py)."""
    size = os.path.getsize(source)
    server = MinimalServer(os.path.join(work, "minimal-server-copy"))
    try:
        ups = [curl("-T", source, server.url)[1] for _ in range(ROUNDS)]
        downs = [curl(server.url)[1] for _ in range(ROUNDS)]
    finally:
        server.close()
        os.unlink(os.path.join(work, "minimal-server-copy"))
    return {"upload": rate(size, ups), "download": rate(size, downs)}


def new_image(server: ApiServer, name: str) -> tuple[str, str]:
    image = api_json(server, "POST", "/v2/images",
                     {"name": name, "disk_format": "raw", "container_format": "bare"})
    return image["id"], f"{server.url}/v2/images/{image['id']}/file"


def upload(url: str, source: str, store: str | None = None) -> float:
    extra = ["-H", f"X-Image-Meta-Store: {store}"] if store else []
    code, seconds = curl("-T", source, "-H", "Content-Type: application/octet-stream", *extra, url)
    assert code == "204", f"upload answered {code}"
    return seconds


def download(url: str) -> float:
    code, seconds = curl(url)
    assert code == "200", f"download answered {code}"
    return seconds


def store_download(url: str) -> float:
    """The whole image as one range: served from the store, the cache neither read nor filled."""
    code, seconds = curl("-H", "Range: bytes=0-", url)
    assert code == "206", f"ranged download answered {code}"
    return seconds


def wait_cached(server: ApiServer, image_id: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while image_id not in {entry["image_id"] for entry in
                           api_json(server, "GET", "/v2/cache")["cached_images"]}:
        assert time.monotonic() < deadline, "the image was never cached"
        time.sleep(0.05)


def file_store(server: ApiServer, source: str) -> dict:
    size = os.path.getsize(source)
    ups, firsts, cached = [], [], []
    for _ in range(ROUNDS):
        image_id, url = new_image(server, "bench-file")
        ups.append(upload(url, source))
        firsts.append(download(url))  # from the store; the cache fills beside it
        wait_cached(server, image_id)
        cached.append(download(url))
        api_json(server, "DELETE", f"/v2/images/{image_id}")
    return {"upload": rate(size, ups), "uncached": rate(size, firsts),
            "cached": rate(size, cached)}


def object_store(server: ApiServer, store: str, source: str, direct) -> dict:
    size = os.path.getsize(source)
    d_ups, d_downs, ups, downs, store_downs = [], [], [], [], []
    peak = 0.0
    for _ in range(ROUNDS):
        d_up, d_down = direct()
        d_ups.append(d_up)
        d_downs.append(d_down)
        image_id, url = new_image(server, f"bench-{store}")
        with RssSampler(server.process.pid) as rss:
            ups.append(upload(url, source, store))
            store_downs.append(store_download(url))
            downs.append(download(url))
        peak = max(peak, rss.peak_kib / 1024)
        api_json(server, "DELETE", f"/v2/images/{image_id}")
    return {"direct_upload": rate(size, d_ups), "upload": rate(size, ups),
            "direct_download": rate(size, d_downs), "download": rate(size, downs),
            "store_download": rate(size, store_downs), "peak_rss_MiB": peak}


def peak_rss(server: ApiServer, source: str) -> float:
    """Peak RSS (MiB) of the API's process tree over one upload and two downloads."""
    image_id, url = new_image(server, "bench-rss")
    with RssSampler(server.process.pid) as rss:
        upload(url, source)
        download(url)
        wait_cached(server, image_id)
        download(url)
    api_json(server, "DELETE", f"/v2/images/{image_id}")
    return rss.peak_kib / 1024


def line(name: str, value: float, ceiling: float, target: float, unit: str = "MB/s") -> dict:
    ratio = value / ceiling if ceiling else float("nan")
    mark = "ok" if ratio >= target else "BELOW TARGET"
    print(f"{name:<44} {value:8.0f} {unit}  ceiling {ceiling:6.0f}  {ratio:5.2f}x  "
          f"(target >= {target}x: {mark})")
    return {"value": round(value), "ceiling": round(ceiling), "ratio": round(ratio, 2),
            "target": target}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rss-sizes-mib", default="256,2048")
    parser.add_argument("--no-object-stores", action="store_true")
    parser.add_argument("--object-stores", default="s3,swift,rbd",
                        help="which of s3, swift, rbd to measure")
    args = parser.parse_args()
    rss_sizes = [int(s) for s in args.rss_sizes_mib.split(",") if s]
    work = tempfile.mkdtemp(prefix="glancelab-data-path-", dir=os.environ.get("BENCH_DIR"))
    os.chmod(work, 0o755)
    services = []
    results: dict = {"size_mib": args.size_mib}
    try:
        source = os.path.join(work, "image.raw")
        make_source(source, args.size_mib * MiB)
        backends, sections = "file:file", ""
        if not args.no_object_stores:
            s3 = Service("s3", os.path.join(work, "s3"), free_port_block(8)).start()
            swift = Service("swift", os.path.join(work, "swift"), free_port_block(5)).start()
            ceph = Service("ceph", os.path.join(work, "ceph"), free_port_block(12)).start()
            services += [s3, swift, ceph]
            backends += ", swift:swift, s3:s3, rbd:rbd"
            sections = swift.store_section("swift", "glance") + s3.store_section("s3", "glance") \
                + ceph.store_section("rbd", ceph.env["RBD_STORE_POOL"])
        server = ApiServer(os.path.join(work, "api"), extra_conf=f"""
            [DEFAULT]
            enabled_backends = {backends}
            image_cache_dir = {work}/cache
            image_cache_max_size = 16GB
            [glance_store]
            default_backend = file
            [file]
            filesystem_store_datadir = {work}/api/file
            """ + sections)
        server.base_store_conf = False
        server.start(timeout=60)
        try:
            size = os.path.getsize(source)
            dd = rate(size, [dd_seconds(work, source) for _ in range(ROUNDS)])
            digests = rate(size, [digest_seconds(source) for _ in range(ROUNDS)])
            parallel = rate(size, [two_core_digest_seconds(source) for _ in range(ROUNDS)])
            print(f"{'ceiling: dd copy with fsync':<44} {dd:8.0f} MB/s")
            print(f"{'reference: md5 then sha512 on one core':<44} {digests:8.0f} MB/s")
            print(f"{'ceiling: md5 beside sha512 on two cores':<44} {parallel:8.0f} MB/s")
            results["ceilings"] = {"dd_copy_MBps": round(dd), "two_digests_MBps": round(digests),
                                   "two_digests_two_cores_MBps": round(parallel)}
            minimal = minimal_server(work, source)
            print(f"{'ceiling: minimal server, receive+digests+fsync':<44} "
                  f"{minimal['upload']:8.0f} MB/s")
            print(f"{'ceiling: minimal server, sendfile':<44} {minimal['download']:8.0f} MB/s")
            results["ceilings"].update({"minimal_upload_MBps": round(minimal["upload"]),
                                        "minimal_download_MBps": round(minimal["download"])})
            fs = file_store(server, source)
            results["file"] = {
                "upload": line("file upload (ceiling: dd copy)", fs["upload"], dd, 0.85),
                "upload_vs_minimal": line("file upload (ceiling: minimal server)",
                                          fs["upload"], minimal["upload"], 0.85),
                "uncached_download": line("file download, first (ceiling: dd copy)",
                                          fs["uncached"], dd, 1.0),
                "uncached_vs_minimal": line("file download, first (ceiling: minimal server)",
                                            fs["uncached"], minimal["download"], 0.85),
                "cached_download": line("file download, cached (ceiling: dd copy)",
                                        fs["cached"], dd, 3.0),
                "cached_vs_minimal": line("file download, cached (ceiling: minimal server)",
                                          fs["cached"], minimal["download"], 0.85),
            }
            if not args.no_object_stores:
                for store, direct in (("s3", lambda: direct_s3(s3.env, source)),
                                      ("swift", lambda: direct_swift(swift.env, source)),
                                      ("rbd", lambda: direct_rbd(ceph.env, source))):
                    if store not in args.object_stores.split(","):
                        continue
                    figures = object_store(server, store, source, direct)
                    results[store] = {
                        "upload": line(f"{store} upload (ceiling: its own client)",
                                       figures["upload"], figures["direct_upload"], 0.9),
                        "download": line(f"{store} download, cache on (ceiling: its client)",
                                         figures["download"], figures["direct_download"], 0.9),
                        "store_download": line(f"{store} download, no cache (its client)",
                                               figures["store_download"],
                                               figures["direct_download"], 0.9),
                        "peak_rss_MiB": round(figures["peak_rss_MiB"], 1),
                    }
                    print(f"{f'peak RSS, {store} upload and download':<44} "
                          f"{figures['peak_rss_MiB']:8.1f} MiB")
            peaks = {}
            for size_mib in rss_sizes:
                sized = os.path.join(work, f"rss-{size_mib}.raw")
                make_source(sized, size_mib * MiB)
                peaks[size_mib] = peak_rss(server, sized)
                os.unlink(sized)
                print(f"{f'peak RSS, {size_mib} MiB image':<44} {peaks[size_mib]:8.1f} MiB")
            if len(peaks) >= 2:
                spread = max(peaks.values()) - min(peaks.values())
                mark = "ok" if spread < 20 else "ABOVE TARGET"
                print(f"{'peak RSS spread across sizes':<44} {spread:8.1f} MiB  "
                      f"(target < 20 MiB: {mark})")
                results["rss"] = {"peak_MiB": {str(k): round(v, 1) for k, v in peaks.items()},
                                  "spread_MiB": round(spread, 1)}
        finally:
            server.stop()
    finally:
        for service in services:
            service.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
