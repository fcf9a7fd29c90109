"""glancelab: a lightweight, Glance-compatible image service."""

__version__ = "0.5.0"
