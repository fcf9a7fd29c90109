"""Disk image format inspection: recognise the format, its virtual size, refuse unsafe data."""

from glancelab.formats.headers import Inspection, UnsafeImage
from glancelab.formats.stream import FormatGuard, FormatPolicy

__all__ = ["FormatGuard", "FormatPolicy", "Inspection", "UnsafeImage"]
