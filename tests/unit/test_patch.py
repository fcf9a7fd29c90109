"""JSON-patch parsing and application: each rule Glance's image PATCH follows."""

import pytest

from glancelab import errors
from glancelab.web.errors import status_of
from glancelab.images import patch


def status(call) -> int:
    with pytest.raises(errors.GlanceError) as raised:
        call()
    return status_of(raised.value)


def test_ops_parse_in_order_with_escaped_pointers():
    changes = patch.parse([{"op": "replace", "path": "/name", "value": "n"},
                           {"op": "add", "path": "/a~1b~0c", "value": "v"},
                           {"op": "remove", "path": "/old"}])
    assert [(c.op, c.attribute, c.value) for c in changes] == [
        ("replace", "name", "n"), ("add", "a/b~c", "v"), ("remove", "old", None)]


@pytest.mark.parametrize("document", [
    {"op": "add"}, [1], [{"op": "move", "path": "/x"}], [{"op": "add", "path": "x", "value": 1}],
    [{"op": "add", "path": "/", "value": 1}], [{"op": "add", "path": "/x"}],
    [{"op": "add", "path": "/x", "value": 1, "from": "/y"}],
    [{"op": "add", "path": "/a/b", "value": 1}],
])
def test_malformed_documents_are_400(document):
    assert status(lambda: patch.parse(document)) == 400


@pytest.mark.parametrize("path", ["/id", "/status", "/checksum", "/size", "/locations/x",
                                  "/os_glance_import_task", "/deleted"])
def test_read_only_and_reserved_attributes(path):
    code = status(lambda: patch.parse([{"op": "replace", "path": path, "value": "x"}]))
    assert code in (400, 403)


def test_location_pointers():
    parsed = patch.parse([{"op": "add", "path": "/locations/-", "value": {"url": "u"}},
                          {"op": "add", "path": "/locations/0", "value": {"url": "v"}},
                          {"op": "remove", "path": "/locations/1"},
                          {"op": "replace", "path": "/locations", "value": []}])
    assert [(c.op, c.index) for c in parsed] == [("add", -1), ("add", 0), ("remove", 1),
                                                ("replace", None)]


def test_apply_changes_a_copy_and_refuses_what_glance_refuses():
    view = {"name": "a", "extra": "1"}
    changed = patch.apply(view, patch.parse([{"op": "replace", "path": "/name", "value": "b"},
                                             {"op": "add", "path": "/new", "value": "2"},
                                             {"op": "remove", "path": "/extra"}]))
    assert changed == {"name": "b", "new": "2"} and view == {"name": "a", "extra": "1"}
    assert status(lambda: patch.apply(view, patch.parse(
        [{"op": "remove", "path": "/name"}]))) == 403  # a core attribute
    assert status(lambda: patch.apply(view, patch.parse(
        [{"op": "remove", "path": "/missing"}]))) == 409
    assert status(lambda: patch.apply(view, patch.parse(
        [{"op": "replace", "path": "/missing", "value": "x"}]))) == 409
