"""Format inspection on upload, with real images made by qemu-img and xorriso."""

import json
import os
import subprocess

import pytest

from harness import ApiServer
from helpers import ADMIN, Client


def qemu_virtual_size(path) -> int:
    out = subprocess.run(["qemu-img", "info", "--output=json", str(path)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)["virtual-size"]


@pytest.fixture(scope="session")
def images(tmp_path_factory):
    """Good and malicious images, each made by the real tools."""
    root = tmp_path_factory.mktemp("disk-images")
    made = {}

    def make(name, filename, fmt, *options, size=None):
        opts = [arg for option in options for arg in ("-o", option)]
        subprocess.run(["qemu-img", "create", "-q", "-f", fmt, *opts, filename,
                        *([size] if size else [])], check=True, capture_output=True, cwd=root)
        made[name] = root / filename

    make("qcow2", "d.qcow2", "qcow2", size="12M")
    make("vmdk", "d.vmdk", "vmdk", size="12M")
    make("vmdk-stream", "s.vmdk", "vmdk", "subformat=streamOptimized", size="12M")
    make("vdi", "d.vdi", "vdi", size="12M")
    make("vhd", "d.vhd", "vpc", size="12M")
    make("vhd-fixed", "f.vhd", "vpc", "subformat=fixed", size="3M")
    make("vhdx", "d.vhdx", "vhdx", size="12M")
    # Malicious: images whose data is not (all) in the file.
    make("qcow2-backing", "back.qcow2", "qcow2", f"backing_file={root / 'd.qcow2'}",
         "backing_fmt=qcow2")
    make("qcow2-data-file", "df.qcow2", "qcow2", f"data_file={root / 'ext.raw'}", size="12M")
    make("vmdk-flat", "flat.vmdk", "vmdk", "subformat=monolithicFlat", size="12M")
    # A monolithicSparse whose embedded descriptor was edited to name a host file.
    sparse = bytearray((root / "d.vmdk").read_bytes())
    start = sparse.index(b'RW ')
    end = sparse.index(b"\n", start)
    line = b'RW 24576 SPARSE "d.vmdk"\nRW 1 FLAT "/etc/shadow" 0'
    sparse[start:end] = line
    (root / "evil.vmdk").write_bytes(bytes(sparse))
    made["vmdk-outside-extent"] = root / "evil.vmdk"
    # An encrypted (LUKS) disk, and a qcow2 that also carries an ISO volume descriptor.
    for attempt in range(5):  # qemu-img's key-derivation benchmark fails now and then
        luks = subprocess.run(["qemu-img", "create", "-q", "-f", "luks", "--object",
                               "secret,id=sec0,data=lab", "-o", "key-secret=sec0,iter-time=10",
                               "l.luks", "4M"], capture_output=True, text=True, cwd=root)
        if luks.returncode == 0:
            break
    assert luks.returncode == 0, luks.stderr
    made["luks"] = root / "l.luks"
    polyglot = bytearray((root / "d.qcow2").read_bytes())
    polyglot.extend(bytes(max(0, 0x9000 - len(polyglot))))
    polyglot[0x8000:0x8006] = b"\x01CD001"
    (root / "poly.qcow2").write_bytes(bytes(polyglot))
    made["qcow2-iso-polyglot"] = root / "poly.qcow2"
    (root / "iso").mkdir()
    (root / "iso" / "hello.txt").write_text("hello\n")
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-o", str(root / "c.iso"),
                    str(root / "iso")], check=True, capture_output=True)
    made["iso"] = root / "c.iso"
    (root / "random.raw").write_bytes(os.urandom(3 * 1024 * 1024 + 5))
    made["raw"] = root / "random.raw"
    return made


@pytest.fixture
def admin(api):
    return Client(api.url, ADMIN)


@pytest.mark.parametrize("name, disk_format", [
    ("qcow2", "qcow2"), ("vmdk", "vmdk"), ("vmdk-stream", "vmdk"), ("vdi", "vdi"),
    ("vhd", "vhd"), ("vhd-fixed", "raw"), ("vhdx", "vhdx"), ("iso", "iso"), ("iso", "raw"),
    ("raw", "raw"),
])
def test_real_images_are_accepted_with_their_virtual_size(admin, images, name, disk_format):
    path = images[name]
    image = admin.create_image(disk_format=disk_format)
    response = admin.upload(image["id"], path.read_bytes())
    assert response.status_code == 204, response.text
    shown = admin.get(f"/v2/images/{image['id']}").json()
    assert shown["status"] == "active" and shown["size"] == path.stat().st_size
    # A fixed VHD has no header, only a footer: qemu-img and oslo's inspector read it as raw.
    raw = name in ("raw", "vhd-fixed")
    expected = path.stat().st_size if raw else qemu_virtual_size(path)
    assert shown["virtual_size"] == expected


@pytest.mark.parametrize("name, disk_format, words", [
    ("qcow2-backing", "qcow2", "backing file"),
    # oslo.utils' format_inspector's own words, as Glance reports them
    ("qcow2-data-file", "qcow2", "data_file set"),
    ("vmdk-flat", "vmdk", "Unsupported subformat"),
    ("vmdk-outside-extent", "vmdk", "Invalid extent filenames"),
    ("luks", "raw", "content is luks but disk_format is raw"),
    ("qcow2-iso-polyglot", "qcow2", "Multiple formats detected"),
    ("qcow2", "raw", "content is qcow2 but disk_format is raw"),
    ("raw", "qcow2", "content is raw but disk_format is qcow2"),
    ("vhdx", "vhd", "content is vhdx"),
])
def test_unsafe_or_mismatched_images_are_refused_and_leave_nothing(admin, api, images, name,
                                                                  disk_format, words):
    image = admin.create_image(disk_format=disk_format)
    response = admin.upload(image["id"], images[name].read_bytes())
    assert response.status_code == 400, response.text
    assert words in response.json()["message"]
    shown = admin.get(f"/v2/images/{image['id']}").json()
    assert shown["status"] == "queued" and shown["size"] is None
    assert image["id"] not in os.listdir(api.datadir)
    assert not [n for n in os.listdir(api.datadir) if n.startswith(".tmp-")]  # no temp file left
    # The image can still take good data afterwards.
    good = {"qcow2": "qcow2", "raw": "raw", "vmdk": "vmdk", "vhd": "vhd"}[disk_format]
    assert admin.upload(image["id"], images[good].read_bytes()).status_code == 204


def test_a_big_unsafe_image_is_refused_from_its_header(admin, api, images):
    """A backing-file qcow2 followed by 64 MiB: the header alone decides, chunked too."""
    header = images["qcow2-backing"].read_bytes()

    def body():
        yield header
        for _ in range(64):
            yield b"\0" * (1024 * 1024)

    image = admin.create_image(disk_format="qcow2")
    response = admin.upload(image["id"], body())
    assert response.status_code == 400 and "backing file" in response.json()["message"]
    assert image["id"] not in os.listdir(api.datadir)


@pytest.fixture(scope="module")
def lenient(tmp_path_factory):
    server = ApiServer(str(tmp_path_factory.mktemp("lenient")), extra_conf="""
        [image_format]
        require_image_format_match = false
        vmdk_allowed_types = monolithicSparse
        """).start()
    yield Client(server.url, ADMIN)
    server.stop()


def test_format_match_can_be_turned_off_but_safety_cannot(lenient, images):
    image = lenient.create_image(disk_format="raw")
    assert lenient.upload(image["id"], images["qcow2"].read_bytes()).status_code == 204
    assert lenient.get(f"/v2/images/{image['id']}").json()["virtual_size"] == \
        qemu_virtual_size(images["qcow2"])
    image = lenient.create_image(disk_format="raw")
    response = lenient.upload(image["id"], images["qcow2-backing"].read_bytes())
    assert response.status_code == 400 and "backing file" in response.json()["message"]


def test_vmdk_allowed_types_is_honoured(lenient, images):
    image = lenient.create_image(disk_format="vmdk")
    response = lenient.upload(image["id"], images["vmdk-stream"].read_bytes())
    assert response.status_code == 400
    assert "createType streamOptimized is not allowed" in response.json()["message"]
