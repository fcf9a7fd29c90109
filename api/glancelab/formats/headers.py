"""What a disk image is, read from its headers: format, virtual size, and safety.

Each reader looks only at bytes captured from the stream (see formats.stream): the first
HEAD_SIZE bytes, the last 512, and regions a reader asks for once the head is known (the
VHDX metadata region). Offsets follow the published specifications of each format.
"""

from __future__ import annotations

import dataclasses
import re
import struct
import uuid

HEAD_SIZE = 256 * 1024
TAIL_SIZE = 512
# The VHDX metadata region is kept whole, up to this much, to read the virtual size.
MAX_REGION = 1024 * 1024

VHDX_METADATA_REGION = uuid.UUID("8b7ca206-4790-4b9a-b8fe-575f050f886e").bytes_le
VHDX_VIRTUAL_DISK_SIZE = uuid.UUID("2fa54224-cd1b-4876-b211-5dbed83bf4b8").bytes_le
VDI_SIGNATURE = 0xBEDA107F
ISO_MAGIC_OFFSETS = (0x8001, 0x8801, 0x9001)
QCOW2_DATA_FILE_BIT = 1 << 2


class UnsafeImage(Exception):
    """The data is a disk image the service must not accept; the message says why."""


@dataclasses.dataclass
class Captured:
    head: bytes
    tail: bytes
    size: int
    regions: dict[int, bytes]


@dataclasses.dataclass
class Inspection:
    format: str
    virtual_size: int | None


def detect_from_head(head: bytes) -> str | None:
    """The format the first bytes prove, or None (raw so far; a fixed VHD shows at the end)."""
    if head.startswith(b"QFI\xfb"):
        return "qcow2"
    if head.startswith(b"KDMV") or head.startswith(b"# Disk DescriptorFile"):
        return "vmdk"
    if head.startswith(b"vhdxfile"):
        return "vhdx"
    if head.startswith(b"conectix"):
        return "vhd"
    if len(head) >= 0x44 and struct.unpack_from("<I", head, 0x40)[0] == VDI_SIGNATURE:
        return "vdi"
    if any(head[offset:offset + 5] == b"CD001" for offset in ISO_MAGIC_OFFSETS):
        return "iso"
    return None


def wanted_regions(fmt: str | None, head: bytes) -> list[tuple[int, int]]:
    """Regions beyond the head a format needs to be understood: (offset, length)."""
    if fmt != "vhdx" or len(head) < 0x30000 + 16 or head[0x30000:0x30004] != b"regi":
        return []
    count = struct.unpack_from("<I", head, 0x30008)[0]
    for index in range(min(count, 2047)):
        entry = 0x30010 + 32 * index
        if entry + 32 > len(head):
            break
        guid, offset, length, _ = struct.unpack_from("<16sQII", head, entry)
        if guid == VHDX_METADATA_REGION:
            return [(offset, min(length, MAX_REGION))]
    return []


def inspect(data: Captured, vmdk_allowed_types: tuple[str, ...]) -> Inspection:
    """Format and virtual size of the captured image; UnsafeImage when it must be refused."""
    fmt = detect_from_head(data.head)
    if fmt is None and data.size >= TAIL_SIZE and data.tail.startswith(b"conectix"):
        fmt = "vhd"  # a fixed VHD: raw data with a footer
    reader = READERS.get(fmt or "raw")
    return Inspection(fmt or "raw", reader(data, vmdk_allowed_types))


def _raw(data: Captured, _types) -> int:
    return data.size


def _qcow2(data: Captured, _types) -> int:
    if len(data.head) < 32:
        raise UnsafeImage("qcow2 header is truncated.")
    version, backing_offset = struct.unpack_from(">IQ", data.head, 4)
    if backing_offset:
        raise UnsafeImage("qcow2 image has a backing file: upload a flattened image "
                          "(qemu-img convert -O qcow2 in.qcow2 out.qcow2).")
    if version >= 3 and len(data.head) >= 80:
        incompatible = struct.unpack_from(">Q", data.head, 72)[0]
        if incompatible & QCOW2_DATA_FILE_BIT:
            raise UnsafeImage("qcow2 image uses an external data file: convert it to a "
                              "self-contained image first.")
    return struct.unpack_from(">Q", data.head, 24)[0]


_EXTENT = re.compile(r'^(RW|RDONLY|NOACCESS)\s+(\d+)\s+(\w+)(?:\s+"([^"]*)")?', re.MULTILINE)
_CREATE_TYPE = re.compile(r'^createType\s*=\s*"([^"]*)"', re.MULTILINE)


def _vmdk(data: Captured, allowed_types) -> int:
    if data.head.startswith(b"# Disk DescriptorFile"):
        raise UnsafeImage("vmdk is a bare descriptor whose extents are other files: upload a "
                          "monolithicSparse or streamOptimized vmdk.")
    if len(data.head) < 44:
        raise UnsafeImage("vmdk header is truncated.")
    capacity, _, desc_offset, desc_size = struct.unpack_from("<QQQQ", data.head, 12)
    start, end = desc_offset * 512, (desc_offset + desc_size) * 512
    if not desc_offset or end > len(data.head):
        raise UnsafeImage("vmdk descriptor is missing or outside the first "
                          f"{HEAD_SIZE // 1024} KiB of the file.")
    descriptor = data.head[start:end].split(b"\0", 1)[0].decode("latin-1")
    match = _CREATE_TYPE.search(descriptor)
    create_type = match.group(1) if match else ""
    if create_type not in allowed_types:
        raise UnsafeImage(f"vmdk createType {create_type or '(none)'} is not allowed; allowed: "
                          f"{', '.join(allowed_types)} ([image_format] vmdk_allowed_types).")
    extents = _EXTENT.findall(descriptor)
    if len(extents) != 1 or extents[0][2] != "SPARSE":
        raise UnsafeImage("vmdk extents point outside the file: only one SPARSE extent, the "
                          "file itself, is accepted.")
    return capacity * 512


def _vhd(data: Captured, _types) -> int:
    footer = data.head if data.head.startswith(b"conectix") else data.tail
    if len(footer) < 56:
        raise UnsafeImage("vhd footer is truncated.")
    return struct.unpack_from(">Q", footer, 48)[0]


def _vhdx(data: Captured, _types) -> int | None:
    for offset, region in data.regions.items():
        if region[:8] != b"metadata":
            continue
        count = struct.unpack_from("<H", region, 10)[0]
        for index in range(count):
            entry = 32 + 32 * index
            if entry + 32 > len(region):
                break
            guid, item_offset, length = struct.unpack_from("<16sII", region, entry)
            if guid == VHDX_VIRTUAL_DISK_SIZE and item_offset + 8 <= len(region):
                return struct.unpack_from("<Q", region, item_offset)[0]
    return None  # valid magic, size not found in what was captured


def _vdi(data: Captured, _types) -> int:
    if len(data.head) < 0x178:
        raise UnsafeImage("vdi header is truncated.")
    return struct.unpack_from("<Q", data.head, 0x170)[0]


def _iso(data: Captured, _types) -> int:
    descriptor = next(o - 1 for o in ISO_MAGIC_OFFSETS if data.head[o:o + 5] == b"CD001")
    blocks = struct.unpack_from("<I", data.head, descriptor + 80)[0]
    block_size = struct.unpack_from("<H", data.head, descriptor + 128)[0]
    return blocks * block_size


READERS = {"raw": _raw, "qcow2": _qcow2, "vmdk": _vmdk, "vhd": _vhd, "vhdx": _vhdx,
           "vdi": _vdi, "iso": _iso}
