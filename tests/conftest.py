"""Session fixtures: real servers on 127.0.0.1, started once per session."""

from __future__ import annotations

import os
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "api"))

import harness  # noqa: E402
from harness import ApiServer, Keystone, Postgres, Service, free_port_block  # noqa: E402


@pytest.fixture(scope="session")
def session_dir():
    with tempfile.TemporaryDirectory(prefix="glancelab-tests-") as path:
        os.chmod(path, 0o755)  # PostgreSQL runs as its own user and must reach its state dir
        yield path


@pytest.fixture(scope="session", autouse=True)
def no_server_answered_500(session_dir):
    """After every server of the session stopped: none logged a 500 or a crash."""
    yield
    seen = harness.UNEXPECTED_SEEN
    assert not seen, f"{len(seen)} unexpected error(s) in API server logs:\n" + "\n".join(seen[:20])


@pytest.fixture(scope="session")
def postgres(session_dir):
    server = Postgres(os.path.join(session_dir, "postgres")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session", params=["sqlite", "postgresql", "keystone"])
def api(request, session_dir, tmp_path_factory):
    """The API suite runs once on SQLite and once on PostgreSQL with identities sent as
    headers, and its modules marked keystone_mode once more with auth_strategy = keystone
    and real tokens (api.keystone set). Tests' own files (under pytest's temporary
    directory) and loop devices may be file:// locations."""
    database_url, auth, keystone = None, "", None
    if request.param == "postgresql":
        database_url = request.getfixturevalue("postgres").new_database()
    if request.param == "keystone":
        keystone = request.getfixturevalue("keystone")
        auth = "[DEFAULT]\nauth_strategy = keystone\n" + keystone.authtoken_section()
    server = ApiServer(os.path.join(session_dir, f"api-{request.param}"), database_url,
                       extra_conf=f"[glancelab]\nfile_location_dirs = "
                                  f"{tmp_path_factory.getbasetemp()}, /dev\n" + auth).start()
    server.keystone = keystone
    yield server
    server.stop()


def pytest_configure(config):
    config.addinivalue_line("markers", "keystone_mode: the module also runs against the API "
                                       "with auth_strategy = keystone (the api fixture)")


def pytest_collection_modifyitems(config, items):
    """Only modules marked keystone_mode run against the keystone-mode API: the others
    send identity headers, which that mode rightly ignores."""
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        in_keystone = callspec is not None and callspec.params.get("api") == "keystone"
        (drop if in_keystone and not item.get_closest_marker("keystone_mode") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def keystone(session_dir):
    service = Keystone(os.path.join(session_dir, "keystone")).start()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def limits(keystone):
    """The image service's registered limits in the session's Keystone (use_keystone_limits)."""
    limits = harness.Limits(keystone)
    for resource, default in harness.LIMIT_DEFAULTS.items():
        limits.register(resource, default)
    return limits


@pytest.fixture(scope="session")
def keystone_api(keystone, session_dir):
    """The API with auth_strategy = keystone, on the port the catalog names for images."""
    server = ApiServer(os.path.join(session_dir, "api-keystone"), port=keystone.glance_port,
                       extra_conf="[DEFAULT]\nauth_strategy = keystone\n"
                                  + keystone.authtoken_section())
    yield server.start()
    server.stop()


def _running(session_dir: str, name: str, ports: int):
    """scripts/services/NAME-up on a block of free ports, down again after the session."""
    service = Service(name, os.path.join(session_dir, name), free_port_block(ports)).start()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def s3_service(session_dir):
    yield from _running(session_dir, "s3", 8)


@pytest.fixture(scope="session")
def swift_service(session_dir):
    yield from _running(session_dir, "swift", 5)


@pytest.fixture(scope="session")
def ceph_service(session_dir):
    """One monitor and one OSD: port, port+1 the monitor's, the next ten the OSD's."""
    yield from _running(session_dir, "ceph", 12)


@pytest.fixture(scope="session")
def ceph_pool(ceph_service):
    """The `images` pool as Ceph's admin sees it (librbd), to check what the API left."""
    import rados
    cluster = rados.Rados(conffile=ceph_service.env["CEPH_CONF"], rados_id="admin")
    cluster.connect(timeout=10)
    ioctx = cluster.open_ioctx(ceph_service.env["RBD_STORE_POOL"])
    yield ioctx
    ioctx.close()
    cluster.shutdown()


@pytest.fixture(scope="session")
def s3_client(s3_service):
    import boto3
    env = s3_service.env
    return boto3.client("s3", endpoint_url=env["S3_ENDPOINT"], aws_access_key_id=env["S3_ACCESS_KEY"],
                        aws_secret_access_key=env["S3_SECRET_KEY"], region_name="us-east-1")


@pytest.fixture(scope="session")
def swift_client(swift_service):
    import swiftclient
    env = swift_service.env
    return swiftclient.Connection(authurl=env["SWIFT_AUTH_URL"], user=env["SWIFT_USER"],
                                  key=env["SWIFT_KEY"])
