"""One keyset pagination for every list: images, tasks, metadata definition namespaces.

A page is the rows strictly after a marker row in a total order (the sort keys, then the
id), read with LIMIT n+1 so that `next` is given only when more rows follow, and `next`
keeps the caller's filters, sort and limit. There is no OFFSET: page N costs what the
first page costs. NULL sorts lowest on every database (first ascending, last descending);
a column that cannot be NULL is ordered and compared without it, so an index serves it.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from urllib.parse import urlencode

import peewee

from glancelab import errors


@dataclasses.dataclass(frozen=True)
class Sorting:
    """(column, "asc"|"desc") pairs, the last of them a unique column."""
    keys: tuple[tuple[peewee.Field, str], ...]

    def order_by(self) -> list:
        # A column that cannot be NULL is ordered plainly: PostgreSQL walks an index
        # only for the NULLS placement it was built with, and would otherwise sort every
        # matching row to give the first page.
        return [(column.asc() if direction == "asc" else column.desc()) if not column.null
                else column.asc(nulls="first") if direction == "asc"
                else column.desc(nulls="last")
                for column, direction in self.keys]

    def after(self, anchor: peewee.Model):
        """Rows strictly after `anchor` in this order."""
        alternatives, equal_so_far = [], []
        for column, direction in self.keys:
            value = getattr(anchor, column.name)
            if direction == "asc":
                later = column.is_null(False) if value is None else (column > value)
            elif value is None:
                later = None
            else:
                later = (column < value) | column.is_null() if column.null else column < value
            if later is not None:
                alternatives.append(functools.reduce(operator.and_, equal_so_far + [later])
                                    if equal_so_far else later)
            equal_so_far.append(column.is_null() if value is None else (column == value))
        if not alternatives:
            return self.keys[-1][0].is_null()  # nothing comes after the last row
        return functools.reduce(operator.or_, alternatives)


def limit_of(text: str | None, default: int, maximum: int) -> int:
    """The page size a request asks for, at most `maximum`."""
    if text is None:
        return min(default, maximum)
    try:
        limit = int(text)
    except ValueError:
        raise errors.bad_request(f"Invalid value for limit: {text!r} is not an integer.") \
            from None
    if limit < 0:
        raise errors.bad_request("limit param must be positive")
    return min(limit, maximum)


def anchor(visible: peewee.Select, key: peewee.Field, marker: str | None,
           what: str) -> peewee.Model | None:
    """The marker's row among those the caller may list; 400 naming it when there is none."""
    if not marker:
        return None
    row = visible.where(key == marker).first()
    if row is None:
        raise errors.bad_request(f"Invalid marker {marker}: no such {what}.")
    return row


def read(query: peewee.Select, sorting: Sorting, limit: int,
         anchor: peewee.Model | None = None) -> tuple[list, bool]:
    """(rows of the page, whether more follow)."""
    if anchor is not None:
        query = query.where(sorting.after(anchor))
    rows = list(query.order_by(*sorting.order_by()).limit(limit + 1))
    return rows[:limit], len(rows) > limit


def links(path: str, params: dict, last_marker: str | None, more: bool) -> dict:
    """`first` and (when more rows follow) `next`, each with the caller's parameters."""
    kept = [(key, value) for key, values in params.items() if key != "marker"
            for value in (values if isinstance(values, list) else [values])]
    page = {"first": path + (f"?{urlencode(kept)}" if kept else "")}
    if more and last_marker is not None:
        page["next"] = f"{path}?{urlencode(kept + [('marker', last_marker)])}"
    return page
