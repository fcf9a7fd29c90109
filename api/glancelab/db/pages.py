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


def _nullable(column: peewee.Field) -> bool:
    return column.null and not getattr(column, "filled_by_database", False)


@dataclasses.dataclass(frozen=True)
class Sorting:
    """(column, "asc"|"desc") pairs, the last of them a unique column."""
    keys: tuple[tuple[peewee.Field, str], ...]
    # The marker row's attributes holding each key's value, when the keys are another
    # table's copies of them (a tag's copy of its image's created_at); else their names.
    anchor_names: tuple[str, ...] | None = None

    def order_by(self) -> list:
        # A column that cannot be NULL is ordered plainly: PostgreSQL walks an index
        # only for the NULLS placement it was built with, and would otherwise sort every
        # matching row to give the first page.
        return [(column.asc() if direction == "asc" else column.desc()) if not _nullable(column)
                else column.asc(nulls="first") if direction == "asc"
                else column.desc(nulls="last")
                for column, direction in self.keys]

    def after(self, anchor: peewee.Model):
        """Rows strictly after `anchor` in this order."""
        alternatives, equal_so_far = [], []
        names = self.anchor_names or [column.name for column, _ in self.keys]
        for (column, direction), name in zip(self.keys, names):
            value = getattr(anchor, name)
            if direction == "asc":
                later = column.is_null(False) if value is None else (column > value)
            elif value is None:
                later = None
            else:
                later = (column < value) | column.is_null() if _nullable(column) \
                    else column < value
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


def read_union(walks: list[tuple[peewee.Select, Sorting]], limit: int,
               anchor: peewee.Model | None = None) -> tuple[list, bool]:
    """(rows of the page, whether more follow) of several queries' rows together, each in
    the same order of columns that cannot be NULL (the first walk's names them): each
    query stops at the page's end on its own index, the database keeps one of each row
    and the first of them, in one round trip."""
    if len(walks) == 1:
        return read(*walks[0], limit, anchor)
    parts = []
    for query, sorting in walks:
        if anchor is not None:
            query = query.where(sorting.after(anchor))
        parts.append(query.order_by(*sorting.order_by()).limit(limit + 1))
    first = walks[0][1]
    names = first.anchor_names or [column.column_name for column, _ in first.keys]
    order = [peewee.SQL(f'"{name}"').asc() if direction == "asc" else peewee.SQL(f'"{name}"').desc()
             for name, (_, direction) in zip(names, first.keys)]
    rows = list(functools.reduce(operator.or_, parts).order_by(*order).limit(limit + 1))
    return rows[:limit], len(rows) > limit


def links(path: str, params: dict, last_marker: str | None, more: bool) -> dict:
    """`first` and (when more rows follow) `next`, each with the caller's parameters."""
    kept = [(key, value) for key, values in params.items() if key != "marker"
            for value in (values if isinstance(values, list) else [values])]
    page = {"first": path + (f"?{urlencode(kept)}" if kept else "")}
    if more and last_marker is not None:
        page["next"] = f"{path}?{urlencode(kept + [('marker', last_marker)])}"
    return page
