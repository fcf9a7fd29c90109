"""`glancelab config check FILE`: what Glance would silently ignore, said with its line.

Glance starts with a misspelt key and uses the default; this names unknown keys and
sections with a did-you-mean, bad values with their line, and what each store will use.
"""

from __future__ import annotations

import difflib
from typing import Iterator

from glancelab.conf import Config, ConfigError, load, options


def problems(config: Config) -> Iterator[tuple[str, str]]:
    """(severity, message) for each key a reader should look at: 'error' or 'note'."""
    known = config.registered()
    sections = sorted(known)
    for entry in config.entries:
        where = f"{entry.file}:{entry.line}: [{entry.section}] {entry.key}"
        if " #" in entry.value or "\t#" in entry.value:
            yield "error", (f"{where}: the value {entry.value!r} holds a '#': glance-api.conf "
                            "has no inline comments, so it is part of the value; put the "
                            "comment on a line of its own")
        if entry.section in options.LIBRARY_SECTIONS:
            continue  # keystonemiddleware, oslo.policy and oslo.limit check their own
        if entry.section in options.GLANCE_ONLY_SECTIONS:
            yield "note", f"{where}: Glance reads [{entry.section}]; glancelab does not use it"
            continue
        if entry.section not in known:
            hint = _did_you_mean(entry.section, sections + list(config.backends))
            yield "error", (f"{where}: unknown section [{entry.section}]{hint}; a store section "
                            "must be named in enabled_backends")
            continue
        if entry.key in known[entry.section]:
            continue
        if entry.section == "DEFAULT" and entry.key in options.GLANCE_ONLY_DEFAULT_KEYS:
            yield "note", f"{where}: a Glance option glancelab does not use"
            continue
        elsewhere = [s for s in sections if entry.key in known[s]]
        if elsewhere:
            yield "error", (f"{where}: not a key of [{entry.section}]; it belongs in "
                            + " or ".join(f"[{s}]" for s in elsewhere))
        else:
            yield "error", (f"{where}: unknown key"
                            f"{_did_you_mean(entry.key, list(known[entry.section]))}")


def run(path: str, out, checks=(), describe=None) -> int:
    """Check the file. What other layers build from the configuration is theirs to judge:
    `checks` find more problems (config -> (severity, message): the policy file), and
    `describe` (config -> lines, ConfigError when it cannot be built: the stores) says
    what the service will use."""
    try:
        config = load(path, strict=False)
    except ConfigError as exc:  # the file cannot be read, or its stores cannot be named
        for line in str(exc).splitlines():
            print(f"error: {line}", file=out)
        return 1
    # Every problem at once: bad values, unknown keys, what the other layers find.
    found = [("error", message) for message in config.bad_values] + list(problems(config))
    summary: list[str] = []
    if not config.bad_values:
        for check in checks:
            found += list(check(config))
        try:
            summary = describe(config) if describe else []
        except ConfigError as exc:
            found.append(("error", str(exc)))
    errors = 0
    for severity, message in found:
        errors += severity == "error"
        print(f"{severity}: {message}", file=out)
    for line in summary:
        print(line, file=out)
    print(f"auth_strategy {config.auth}; database {_redacted(config.database.connection)}",
          file=out)
    print(f"{path}: {'OK' if not errors else f'{errors} problem(s)'}", file=out)
    return 1 if errors else 0


def _did_you_mean(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.7)
    return f" (did you mean {close[0]}?)" if close else ""


def _redacted(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.rsplit("@", 1)[1]
    return f"{scheme}{sep}{rest}"
