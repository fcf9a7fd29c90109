"""What a store driver raises: the kinds of backend failure every layer above knows.

A message names the store and what to do next; it may hold a directory, an endpoint or a
bucket, so what any caller may read is `shown()` (the store's name and the kind).
"""

from __future__ import annotations


class StoreError(Exception):
    """A backend failed; the message names the store and what to do next."""

    # What any caller may read: the store's name and the kind of failure. The message
    # itself may hold a directory, an endpoint or a bucket: for the log and for admins.
    KIND = "failed"

    def shown(self, store_id: str, detailed: bool) -> str:
        brief = f"Store {store_id} {self.KIND}"
        return f"{brief}: {self}" if detailed else brief


class StoreFull(StoreError):
    """No room left in the backend (answered 413, like Glance's StorageFull)."""
    KIND = "has no room for the data"


class StoreInUse(StoreError):
    """The data is used by something outside glancelab (an rbd clone): answered 409."""
    KIND = "holds the data in use elsewhere (clones of its rbd snapshot)"


class StoreUnavailable(StoreError):
    """The backend could not be reached or refused the request (answered 503)."""
    KIND = "is unavailable"
