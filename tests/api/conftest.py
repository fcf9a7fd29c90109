import pytest

from helpers import ADMIN, Client, identity


@pytest.fixture
def admin(api):
    return Client(api.url, ADMIN)


@pytest.fixture
def alice(api):
    return Client(api.url, identity("project-alice"))


@pytest.fixture
def bob(api):
    return Client(api.url, identity("project-bob"))


@pytest.fixture
def reader(api):
    return Client(api.url, identity("project-alice", roles="reader"))
