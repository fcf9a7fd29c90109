"""What can go wrong, as the domains say it: one exception class per kind of refusal.

Domain code (images, imports, stores, quotas, …) raises these and knows nothing of HTTP;
web/errors.py is the one place that maps each kind to Glance's status code and error
format. Each carries the message the caller reads, and optional response headers
(Retry-After, Content-Range).
"""

from __future__ import annotations


class GlanceError(Exception):
    """A request refused; `message` says why and what to do next."""

    def __init__(self, message: str, headers: dict | None = None):
        super().__init__(message)
        self.message = message
        self.headers = headers or {}

    @property
    def description(self) -> str:  # the words falcon's errors use for the same thing
        return self.message


class Invalid(GlanceError):
    """The request itself is wrong (a value, a header, a body)."""


class NotAuthenticated(GlanceError):
    """No identity the service believes."""


class Forbidden(GlanceError):
    """The caller may not do this (a policy rule, a protected property or image)."""


class NotFound(GlanceError):
    """No such thing, or not one the caller may see."""


class TimedOut(GlanceError):
    """The client was too slow sending its request."""


class Conflict(GlanceError):
    """The thing is not in a state that allows it (busy, already there, in use)."""


class Gone(GlanceError):
    """The thing went away while the request worked on it."""


class OverLimit(GlanceError):
    """A size cap, a quota or a store's space would be exceeded."""


class UnsupportedMedia(GlanceError):
    """A body of a media type this request does not take."""


class RangeNotSatisfiable(GlanceError):
    """A byte range outside the data."""


class Unavailable(GlanceError):
    """A dependency (database, store, identity) cannot serve now; retry later."""


class Unexpected(GlanceError):
    """A bug: the service failed in a way it did not foresee."""


def bad_request(message: str) -> Invalid:
    return Invalid(message)


def forbidden(message: str) -> Forbidden:
    return Forbidden(message)


def not_found(message: str) -> NotFound:
    return NotFound(message)


def conflict(message: str) -> Conflict:
    return Conflict(message)


def too_large(message: str) -> OverLimit:
    return OverLimit(message)


def unavailable(message: str, headers: dict | None = None) -> Unavailable:
    return Unavailable(message, headers)


def image_not_found(image_id: str) -> NotFound:
    return NotFound(f"No image found with ID {image_id}")
