"""Hot queries compiled once per database.

Building SQL from a peewee query costs several times more than SQLite running it, so the
queries every image GET makes are compiled on first use and then only executed.
"""

from __future__ import annotations

from typing import Callable

import peewee

from glancelab.db import database

_SENTINEL = "__glancelab_param__"


class PreparedQuery:
    """build(param) -> a peewee query taking one parameter; run(value) executes it."""

    def __init__(self, build: Callable[[object], peewee.Query]):
        self._build = build
        self._compiled: dict[int, str] = {}
        self._converters: list[Callable] | None = None
        self._fields: dict[tuple, list[peewee.Field]] = {}

    def _sql(self) -> str:
        key = id(database.obj)
        if key not in self._compiled:
            query = self._build(_SENTINEL)
            sql, params = query.sql()
            if params != [_SENTINEL]:
                raise ValueError("a prepared query takes exactly one parameter")
            # Raw rows skip the fields' own conversions (a JSON column's, say): keep them.
            self._converters = [column.python_value if getattr(column, "decode_raw", False)
                                else None for column in query._returning]
            self._compiled[key] = sql
        return self._compiled[key]

    def rows(self, value) -> list[tuple]:
        sql = self._sql()
        converters = self._converters or []
        if not any(converters):
            return list(database.execute_sql(sql, (value,)).fetchall())
        return [tuple(convert(item) if convert else item
                      for convert, item in zip(converters, row))
                for row in database.execute_sql(sql, (value,)).fetchall()]

    def models(self, model: type[peewee.Model], value) -> list[peewee.Model]:
        """Model instances of the rows, each column converted by its own field (as peewee's
        own cursor does, without building a query object per call: a quarter of a GET's
        database time went there)."""
        cursor = database.execute_sql(self._sql(), (value,))
        key = (model, tuple(column[0] for column in cursor.description))
        fields = self._fields.get(key)
        if fields is None:
            fields = self._fields[key] = [model._meta.columns[name] for name in key[1]]
        made = []
        for row in cursor.fetchall():
            instance = model(__no_default__=True)
            instance.__data__ = {field.name: None if item is None else field.python_value(item)
                                 for field, item in zip(fields, row)}
            made.append(instance)
        return made
