"""Range requests: Falcon parses the header, we turn it into byte positions of an image."""

import falcon.testing
import pytest

from glancelab import errors
from glancelab.web.errors import status_of
from glancelab.images import data
from glancelab.images.data_resources import _byte_range


def header_range(value):
    return _byte_range(falcon.testing.create_req(headers={"Range": value}))


@pytest.mark.parametrize("header, positions", [
    ("bytes=0-9", (0, 9)), ("bytes=10-", (10, 99)), ("bytes=-10", (90, 99)),
    ("bytes=-500", (0, 99)), ("bytes=50-5000", (50, 99)), ("bytes=99-99", (99, 99)),
])
def test_satisfiable_ranges(header, positions):
    assert data.byte_positions(header_range(header), 100) == positions


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=500-600", "bytes=-0"])
def test_unsatisfiable_ranges_are_416_with_the_size(header):
    with pytest.raises(errors.GlanceError) as raised:
        data.byte_positions(header_range(header), 100)
    assert status_of(raised.value) == 416
    assert raised.value.headers["Content-Range"] == "bytes */100"


@pytest.mark.parametrize("header", ["bytes=a-b", "items=0-1", "bytes=0-1,5-6", "bytes=9-3"])
def test_malformed_or_multiple_ranges_are_400(header):
    with pytest.raises(errors.GlanceError) as raised:
        header_range(header)
    assert status_of(raised.value) == 400


def test_no_header_means_the_whole_image():
    assert _byte_range(falcon.testing.create_req()) is None
