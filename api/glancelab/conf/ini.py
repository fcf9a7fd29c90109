"""Where each key of glance-api.conf stands: file, line, section, key, value.

oslo.config reads the values; this reads the same files with oslo.config's own INI parser
to say where a value came from (bad values, unknown keys, `glancelab config check`).
"""

from __future__ import annotations

import dataclasses

from oslo_config import iniparser


@dataclasses.dataclass(frozen=True)
class Entry:
    file: str
    line: int
    section: str
    key: str
    value: str


class _Collector(iniparser.BaseParser):
    def __init__(self, file: str, entries: list[Entry]):
        super().__init__()
        self.file, self.entries, self.section = file, entries, "DEFAULT"

        self.key_line = 0

    def new_section(self, section: str) -> None:
        self.section = section

    def _split_key_value(self, line: str):
        # The parser reports an assignment only once its continuation lines are read.
        self.key_line = self.lineno
        return super()._split_key_value(line)

    def assignment(self, key: str, value: list[str]) -> None:
        self.entries.append(Entry(self.file, self.key_line, self.section, key,
                                  "\n".join(value)))

    def parse_exc(self, msg, lineno, line=None):
        return ValueError(f"{self.file}:{lineno}: {msg}: {line!r}")


def scan(files: list[str]) -> list[Entry]:
    """Every assignment of the files, in the order they are read (later wins)."""
    entries: list[Entry] = []
    for file in files:
        with open(file, encoding="utf-8") as handle:
            _Collector(file, entries).parse(handle)
    return entries
