"""Real Swift and S3 servers, and one API server with every kind of backend at once."""

from __future__ import annotations

import os

import pytest

from harness import ApiServer, FaultyProxy

BUCKET = "glance-images"
CONTAINER = "glance"
POOL = "images"


@pytest.fixture(scope="session")
def s3_proxy(s3_service):
    proxy = FaultyProxy(s3_service.port)
    yield proxy
    proxy.close()


@pytest.fixture(scope="session")
def swift_proxy(swift_service):
    proxy = FaultyProxy(swift_service.port)
    yield proxy
    proxy.close()


@pytest.fixture(scope="session")
def multistore_api(session_dir, s3_service, swift_service, ceph_service, s3_proxy, swift_proxy):
    work = os.path.join(session_dir, "api-multistore")
    conf = f"""
        [DEFAULT]
        enabled_backends = fast:file, cheap:file, obj:swift, s3:s3, s3flaky:s3, swiftflaky:swift, ceph:rbd, web:http

        [glancelab]
        file_location_dirs = {work}/host-files

        [glance_store]
        default_backend = fast

        [fast]
        store_description = Fast disk
        filesystem_store_datadir = {work}/fast
        filesystem_store_file_perm = 0640

        [cheap]
        filesystem_store_datadirs = {work}/cheap-a:100, {work}/cheap-b:200
        weight = 50
        """
    conf += swift_service.store_section("obj", CONTAINER, swift_store_large_object_size="2",
                                        swift_store_large_object_chunk_size="1")
    conf += s3_service.store_section("s3", BUCKET, s3_store_large_object_size="5",
                                     s3_store_large_object_chunk_size="5")
    conf += s3_service.store_section("s3flaky", f"{BUCKET}-flaky",
                                     s3_store_host=f"http://127.0.0.1:{s3_proxy.port}",
                                     s3_store_large_object_size="5",
                                     s3_store_large_object_chunk_size="5")
    conf += swift_service.store_section(
        "swiftflaky", f"{CONTAINER}-flaky",
        swift_store_auth_address=f"http://127.0.0.1:{swift_proxy.port}/auth/v1.0",
        swift_store_large_object_size="1", swift_store_large_object_chunk_size="1")
    # 1 MiB objects: the suite's few-MiB images span several of them.
    conf += ceph_service.store_section("ceph", POOL, rbd_store_chunk_size="1")
    server = ApiServer(work, extra_conf=conf)
    server.base_store_conf = False
    yield server.start()
    server.stop()


