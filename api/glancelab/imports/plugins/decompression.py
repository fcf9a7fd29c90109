"""image_decompression: a staged gzip or zip archive is replaced by the image inside it.

The output is bounded by image_size_cap while it is written, so an archive that unpacks
to more than a user may upload fails the import instead of filling the staging disk.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import zipfile

from glancelab.imports.plugins import PluginFailed, StagedImage

CHUNK = 1024 * 1024


def decompress(_plugins, staged: StagedImage) -> str | None:
    if staged.container_format == "compressed":  # the user keeps it compressed on purpose
        return None
    with open(staged.path, "rb") as handle:
        magic = handle.read(5)
    if magic[:3] == b"\x1f\x8b\x08":
        kind, opener = "gzip", lambda: gzip.open(staged.path, "rb")
    elif magic[:4] == b"PK\x03\x04":
        kind, opener = "zip", lambda: _only_member(staged.path)
    else:
        return None
    before = os.path.getsize(staged.path)
    partial = f"{staged.path}.decompressing"
    try:
        with opener() as source, open(partial, "wb") as target:
            written = 0
            while chunk := source.read(CHUNK):
                written += len(chunk)
                if written > staged.size_cap:
                    raise PluginFailed(f"the {kind} archive unpacks to more than image_size_cap "
                                       f"({staged.size_cap} bytes)")
                target.write(chunk)
            target.flush()
            os.fsync(target.fileno())
        os.replace(partial, staged.path)
    except (OSError, EOFError, zipfile.BadZipFile, gzip.BadGzipFile) as exc:
        raise PluginFailed(f"the staged {kind} archive cannot be unpacked: {exc}") from None
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    staged.changes["size"] = written
    return f"unpacked {kind} ({before} -> {written} bytes)"


@contextlib.contextmanager
def _only_member(path: str):
    with zipfile.ZipFile(path) as archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
        if len(members) != 1:
            raise PluginFailed(f"a zip archive must hold exactly one file; this one holds "
                               f"{len(members)}")
        with archive.open(members[0]) as source:
            yield source
