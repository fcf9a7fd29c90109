"""Disk image format inspection: recognise the format, its virtual size, refuse unsafe data."""

from glancelab.formats.inspection import FormatGuard, FormatPolicy, Inspection, UnsafeImage

__all__ = ["FormatGuard", "FormatPolicy", "Inspection", "UnsafeImage"]
