"""Inspection on the stream: capture only what the headers need, refuse as early as possible.

An upload passes every chunk through FormatGuard.feed; the guard keeps the first
HEAD_SIZE bytes, the last 512 and any region a format asks for, so memory stays
constant whatever the image size. A format the head already proves (a qcow2 with a
backing file, a vmdk with outside extents) is refused before the rest is written; what
only the end can show (a fixed VHD's footer) is judged by finish().
"""

from __future__ import annotations

import dataclasses

from glancelab.formats import headers
from glancelab.formats.headers import Captured, Inspection, UnsafeImage

# disk_format values whose content is not inspected (kernel/ramdisk blobs, ploop).
UNINSPECTED = {"ami", "ari", "aki", "ploop"}
# What content each declared disk_format accepts; an ISO is also a valid raw disk.
ACCEPTS = {"raw": {"raw", "iso"}}


@dataclasses.dataclass(frozen=True)
class FormatPolicy:
    """Glance's [image_format] options that govern inspection."""
    require_image_format_match: bool
    vmdk_allowed_types: tuple[str, ...]


class FormatGuard:
    def __init__(self, declared: str | None, policy: FormatPolicy):
        self.declared = declared
        self.policy = policy
        self.head = bytearray()
        self.tail = b""
        self.size = 0
        self.wanted: list[tuple[int, int]] = []
        self.regions: dict[int, bytearray] = {}
        self.head_judged = False
        self.result: Inspection | None = None

    def feed(self, chunk: bytes) -> None:
        position = self.size
        if len(self.head) < headers.HEAD_SIZE:
            self.head += chunk[:headers.HEAD_SIZE - len(self.head)]
        for offset, length in self.wanted:
            start, end = max(position, offset), min(position + len(chunk), offset + length)
            if start < end:
                self.regions.setdefault(offset, bytearray()).extend(
                    chunk[start - position:end - position])
        self.size += len(chunk)
        self.tail = (self.tail + chunk[-headers.TAIL_SIZE:])[-headers.TAIL_SIZE:]
        if not self.head_judged and len(self.head) >= headers.HEAD_SIZE:
            self._judge_head()

    def _judge_head(self) -> None:
        self.head_judged = True
        head = bytes(self.head)
        fmt = headers.detect_from_head(head)
        self.wanted = headers.wanted_regions(fmt, head)
        if fmt is not None and not self.wanted:
            # The head alone decides: refuse now, before the rest reaches a store.
            self._check(self._inspect())

    def finish(self) -> Inspection:
        """Judge the whole stream; UnsafeImage when it must be refused."""
        self.result = self._inspect()
        self._check(self.result)
        return self.result

    def _inspect(self) -> Inspection:
        captured = Captured(bytes(self.head), self.tail, self.size,
                            {offset: bytes(data) for offset, data in self.regions.items()})
        try:
            return headers.inspect(captured, self.policy.vmdk_allowed_types)
        except (IndexError, ValueError) as exc:  # struct.error is a ValueError
            raise UnsafeImage(f"image header is truncated or malformed ({exc}).") from None

    def _check(self, inspection: Inspection) -> None:
        declared = self.declared
        if not self.policy.require_image_format_match or not declared or declared in UNINSPECTED:
            return
        if inspection.format not in ACCEPTS.get(declared, {declared}):
            raise UnsafeImage(f"Image content is {inspection.format} but disk_format is "
                              f"{declared}: set disk_format to {inspection.format} or upload "
                              f"{declared} data.")
