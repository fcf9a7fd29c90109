"""FormatGuard on real images made by qemu-img: what it accepts, when it refuses."""

import os
import subprocess

import pytest

from glancelab.formats import FormatGuard, FormatPolicy, UnsafeImage

STRICT = FormatPolicy(require_image_format_match=True,
                      vmdk_allowed_types=("monolithicSparse", "streamOptimized"))
LENIENT = FormatPolicy(require_image_format_match=False,
                       vmdk_allowed_types=("monolithicSparse",))
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("inspect")

    def create(name, fmt, *options, size="8M"):
        opts = [arg for option in options for arg in ("-o", option)]
        subprocess.run(["qemu-img", "create", "-q", "-f", fmt, *opts, str(root / name), size],
                       check=True, capture_output=True)
        return (root / name).read_bytes()

    return {"qcow2": create("a.qcow2", "qcow2"),
            "backing": create("b.qcow2", "qcow2", f"backing_file={root / 'a.qcow2'}",
                              "backing_fmt=qcow2"),
            "stream": create("s.vmdk", "vmdk", "subformat=streamOptimized")}


def chunks(data: bytes, size: int = 64 * 1024):
    for start in range(0, len(data), size):
        yield data[start:start + size]


def consume(guard: FormatGuard, stream) -> int:
    """Bytes that got through before a refusal (or all of them)."""
    passed = 0
    try:
        for chunk in guard.inspect(stream):
            passed += len(chunk)
    except UnsafeImage:
        return passed
    guard.finish()
    return passed


def test_a_good_image_passes_with_its_virtual_size(made):
    guard = FormatGuard("qcow2", STRICT)
    assert consume(guard, chunks(made["qcow2"])) == len(made["qcow2"])
    assert guard.result.format == "qcow2" and guard.result.virtual_size == 8 * MiB


def test_a_backing_file_is_refused_before_the_rest_is_read(made):
    stream = chunks(made["backing"] + bytes(64 * MiB), MiB)
    guard = FormatGuard("qcow2", STRICT)
    with pytest.raises(UnsafeImage, match="backing file"):
        for _ in guard.inspect(stream):
            pass
    assert sum(1 for _ in stream) > 60, "refused from the header, not at the end"


def test_a_mismatch_is_refused_early_unless_matching_is_off(made):
    data = os.urandom(4 * MiB)
    strict = FormatGuard("qcow2", STRICT)
    assert consume(strict, chunks(data)) < MiB
    lenient = FormatGuard("qcow2", LENIENT)
    assert consume(lenient, chunks(data)) == len(data)
    assert lenient.result.format == "raw"


def consume_strictly(guard, data):
    for _ in guard.inspect(chunks(data)):
        pass
    guard.finish()


def test_safety_holds_with_matching_off(made):
    with pytest.raises(UnsafeImage, match="backing file"):
        consume_strictly(FormatGuard("raw", LENIENT), made["backing"])


def test_vmdk_allowed_types(made):
    consume_strictly(FormatGuard("vmdk", STRICT), made["stream"])
    with pytest.raises(UnsafeImage, match="createType streamOptimized is not allowed"):
        consume_strictly(FormatGuard("vmdk", LENIENT), made["stream"])


@pytest.mark.parametrize("declared", ["ami", "aki", "ari", "ploop"])
def test_kernel_and_ramdisk_formats_are_not_matched(declared):
    guard = FormatGuard(declared, STRICT)
    consume_strictly(guard, os.urandom(100_000))
    assert guard.result.format == "raw"
