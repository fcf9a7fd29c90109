"""glancelab: a lightweight, Glance-compatible image service."""

__version__ = "0.4.0"
