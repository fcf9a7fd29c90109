"""Format inspection on the stream, with oslo.utils' format_inspector (as Glance and Nova).

Every chunk of an upload passes through oslo's inspectors, which keep only the regions a
format needs, so memory stays constant whatever the image size. A format the data
already proves unsafe (a qcow2 with a backing file, a vmdk with outside extents) or that
is not the declared disk_format is refused before the rest reaches a store; the rest
(content that matches several formats, a format known only at the end) when it ends.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Iterable, Iterator

from oslo_utils.imageutils import format_inspector

# Glance logs every failed safety check itself; our answer to the client says it.
logging.getLogger(format_inspector.__name__).setLevel(logging.ERROR)

# disk_format values whose content is not inspected (kernel/ramdisk blobs, ploop).
UNINSPECTED = {"ami", "ari", "aki", "ploop"}
# What content each declared disk_format accepts: a raw disk may carry a partition
# table (gpt, mbr) or be a CD image.
ACCEPTS = {"raw": {"raw", "gpt", "iso"}}
# oslo reports a vmdk's createType in lower case; Glance's option spells it like VMware.
VMDK_TYPES = {"monolithicsparse": "monolithicSparse", "streamoptimized": "streamOptimized"}


class UnsafeImage(Exception):
    """The data is a disk image the service must not accept; the message says why."""


@dataclasses.dataclass(frozen=True)
class FormatPolicy:
    """Glance's [image_format] options that govern inspection."""
    require_image_format_match: bool
    vmdk_allowed_types: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Inspection:
    format: str
    virtual_size: int | None


class FormatGuard:
    """Inspects one upload: inspect() passes its chunks on, finish() judges the whole."""

    def __init__(self, declared: str | None, policy: FormatPolicy):
        self.declared = declared
        self.policy = policy
        self.match_required = bool(policy.require_image_format_match and declared
                                   and declared not in UNINSPECTED)
        self.result: Inspection | None = None
        self._wrapper: format_inspector.InspectWrapper | None = None
        self._judged: set[str] = set()
        self._decided = False

    def inspect(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        self._wrapper = format_inspector.InspectWrapper(iter(chunks))
        for chunk in self._wrapper:
            if not self._decided:
                self._judge_early()
            yield chunk

    def _judge_early(self) -> None:
        """Refuse as soon as the data shows it is unsafe or not the declared format."""
        wrapper = self._wrapper
        for inspector in wrapper._inspectors:
            name = inspector.NAME
            if name in self._judged or name == "raw" or not inspector.complete:
                continue
            self._judged.add(name)
            if inspector.format_match:
                self._check_safety(inspector)
        if wrapper.formats is not None:  # every specific inspector has seen enough
            self._decided = True
            self._check(self._single_format())

    def finish(self) -> Inspection:
        """Judge the whole stream; UnsafeImage when it must be refused."""
        wrapper = self._wrapper
        if wrapper is None:
            raise RuntimeError("finish() before inspect()")
        wrapper.close()
        found = self._single_format()
        self._check(found)
        size = found.virtual_size
        self.result = Inspection(found.NAME, size or None)
        return self.result

    def _single_format(self):
        try:
            return self._wrapper.format
        except format_inspector.ImageFormatError as exc:  # several formats at once
            raise UnsafeImage(f"{exc}: data that reads as several formats is refused.") \
                from None

    def _check(self, inspector) -> None:
        name = inspector.NAME
        if self.match_required and name not in ACCEPTS.get(self.declared, {self.declared}):
            raise self._mismatch(name)
        self._check_safety(inspector)

    def _check_safety(self, inspector) -> None:
        name = inspector.NAME
        try:
            inspector.safety_check()
        except format_inspector.SafetyCheckFailed as exc:
            failures = "; ".join(f"{check}: {error}" for check, error in exc.failures.items())
            raise UnsafeImage(f"{name} image failed safety checks ({failures}).") from None
        except format_inspector.ImageFormatError as exc:
            raise UnsafeImage(f"{name} image cannot be checked: {exc}.") from None
        subformat = getattr(inspector, "vmdktype", None)
        allowed = {kind.lower() for kind in self.policy.vmdk_allowed_types}
        if name == "vmdk" and subformat not in allowed:
            raise UnsafeImage(f"vmdk createType {VMDK_TYPES.get(subformat, subformat)} is not "
                              "allowed: "
                              "[image_format] vmdk_allowed_types is "
                              f"{', '.join(self.policy.vmdk_allowed_types) or 'empty'}.")

    def _mismatch(self, detected: str) -> UnsafeImage:
        return UnsafeImage(f"Image content is {detected} but disk_format is {self.declared}: "
                           f"set disk_format to {detected} or upload {self.declared} data.")
