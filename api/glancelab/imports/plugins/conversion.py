"""image_conversion: staged data turned into [image_conversion] output_format by qemu-img.

As Glance's plugin: the staged file is inspected first (format_inspector: the declared
disk_format, safety checks), then `qemu-img info` runs under CPU and memory limits and
must agree (no backing file, no qcow2 data file); `qemu-img convert` writes the target
format beside it, and the output is inspected again before it replaces the staged file.
Formats qemu-img does not write (iso, ami, ploop...) are left as they are.
"""

from __future__ import annotations

import json
import os
import subprocess

from glancelab.formats import FormatGuard, UnsafeImage
from glancelab.imports.plugins import PluginFailed, Plugins, StagedImage

# Glance's names -> qemu-img's; only these are converted.
QEMU_FORMATS = {"raw": "raw", "qcow2": "qcow2", "vmdk": "vmdk", "vdi": "vdi", "vhd": "vpc",
                "vhdx": "vhdx"}
# Glance's QEMU_IMG_PROC_LIMITS: qemu-img info on hostile data must not eat the host.
INFO_LIMITS = ["prlimit", "--cpu=2", f"--as={1024**3}", "--"]
READ = 1024 * 1024


def convert(plugins: Plugins, staged: StagedImage) -> str | None:
    source, target = staged.disk_format, plugins.output_format
    if source not in QEMU_FORMATS:
        return f"left as {source}: qemu-img does not convert it" if source else None
    inspected = _inspect(staged.path, source, staged)
    if inspected == "iso":  # as Glance: an ISO must be declared as one
        raise PluginFailed(f"the data is an ISO image, not {source}; set disk_format to iso")
    info = _qemu_info(staged.path, source)
    if source == target:
        return f"already {target}"
    partial = f"{staged.path}.converting"
    try:
        done = subprocess.run(["qemu-img", "convert", "-q", "-f", QEMU_FORMATS[source],
                               "-O", QEMU_FORMATS[target], staged.path, partial],
                              capture_output=True, text=True)
        if done.returncode:
            raise PluginFailed(f"qemu-img could not convert the {source} data to {target}: "
                               f"{_last_line(done.stderr)}")
        _inspect(partial, target, staged)
        os.replace(partial, staged.path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    size = os.path.getsize(staged.path)
    staged.changes.update(disk_format=target, container_format="bare", size=size,
                          virtual_size=info.get("virtual-size"))
    staged.disk_format, staged.container_format = target, "bare"
    return f"converted {source} to {target} ({size} bytes)"


def _inspect(path: str, declared: str, staged: StagedImage) -> str:
    """The format the file's content has; PluginFailed when it is unsafe or not `declared`."""
    guard = FormatGuard(declared, staged.formats)
    try:
        with open(path, "rb") as handle:
            for _ in guard.inspect(iter(lambda: handle.read(READ), b"")):
                pass
        return guard.finish().format
    except UnsafeImage as exc:
        raise PluginFailed(f"image rejected by format inspection: {exc}") from None


def _qemu_info(path: str, source: str) -> dict:
    done = subprocess.run([*INFO_LIMITS, "qemu-img", "info", "-f", QEMU_FORMATS[source],
                           "--output=json", path], capture_output=True, text=True)
    if done.returncode:
        raise PluginFailed(f"qemu-img cannot read the data as {source}: "
                           f"{_last_line(done.stderr)}")
    try:
        info = json.loads(done.stdout)
    except ValueError:
        raise PluginFailed("qemu-img info gave no readable answer") from None
    if info.get("format") != QEMU_FORMATS[source]:
        raise PluginFailed(f"qemu-img reads the data as {info.get('format')}, not {source}")
    if info.get("backing-filename"):
        raise PluginFailed("the image has a backing file; upload a standalone image")
    data_file = (info.get("format-specific") or {}).get("data", {}).get("data-file")
    if data_file:
        raise PluginFailed("the qcow2 image has an external data file; upload a standalone "
                           "image")
    return info


def _last_line(text: str) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no reason given"
