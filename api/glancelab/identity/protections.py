"""Property protections: who may create, read, update and delete which image properties.

Glance's `property_protection_file` (INI): each section is a regular expression matched
(re.search) against a property's name, the first matching section in file order decides,
and a property no section matches is closed to everyone. Each section gives all four
operations, as roles (`property_protection_rule_format = roles`: a comma list, `@`
everyone, `!` nobody) or as one policy rule name each (`= policies`). Glance's own
os_glance_* properties are never governed by the file. Only extra properties are
protected, never an image's core attributes.
"""

from __future__ import annotations

import configparser
import dataclasses
import logging
import re

from glancelab.conf import Config, ConfigError
from glancelab.identity.context import RequestContext

LOG = logging.getLogger(__name__)

OPERATIONS = ("create", "read", "update", "delete")
EVERYONE, NOBODY = "@", "!"
RESERVED_PREFIX = "os_glance"


@dataclasses.dataclass(frozen=True)
class Rule:
    """Who may do one operation: everyone, nobody, any of some roles, or a policy rule."""
    everyone: bool = False
    roles: frozenset[str] = frozenset()
    policy: str | None = None

    def allows(self, ctx: RequestContext) -> bool:
        if self.everyone:
            return True
        if self.policy is not None:
            return ctx.allows(self.policy, {"project_id": ctx.project_id})
        return bool(self.roles & {role.lower() for role in ctx.roles})


@dataclasses.dataclass(frozen=True)
class Section:
    name: str
    pattern: re.Pattern
    rules: dict[str, Rule]


class PropertyProtections:
    def __init__(self, sections: list[Section]):
        self.sections = sections

    @classmethod
    def from_config(cls, config: Config) -> "PropertyProtections | None":
        path = config.property_protection_file
        if not path:
            return None
        return cls(_load(path, config.property_protection_rule_format))

    def policy_names(self) -> set[str]:
        return {rule.policy for section in self.sections for rule in section.rules.values()
                if rule.policy is not None}

    def allows(self, ctx: RequestContext, name: str, operation: str) -> bool:
        if name.startswith(RESERVED_PREFIX):
            return True  # Glance's own properties: the file never governs them
        for section in self.sections:
            if section.pattern.search(name):
                return section.rules[operation].allows(ctx)
        return False

    def readable(self, ctx: RequestContext, properties: dict) -> dict:
        return {name: value for name, value in properties.items()
                if self.allows(ctx, name, "read")}


def _load(path: str, rule_format: str) -> list[Section]:
    parser = configparser.ConfigParser(interpolation=None, default_section="\0none")
    parser.optionxform = str
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except (OSError, configparser.Error) as exc:
        raise ConfigError(f"property_protection_file {path} cannot be read: {exc}") from None
    sections = []
    for name in parser.sections():
        if name.startswith(RESERVED_PREFIX):
            LOG.warning("property protection section %s ignored: os_glance properties are "
                        "Glance's own", name)
            continue
        try:
            pattern = re.compile(name)
        except re.error as exc:
            raise ConfigError(f"property_protection_file {path}: [{name}] is not a regular "
                              f"expression: {exc}") from None
        rules = {}
        for operation in OPERATIONS:
            if operation not in parser[name]:
                raise ConfigError(f"property_protection_file {path}: [{name}] lacks "
                                  f"'{operation}'; give all of {', '.join(OPERATIONS)}")
            rules[operation] = _rule(path, name, operation, parser[name][operation],
                                     rule_format)
        sections.append(Section(name, pattern, rules))
    return sections


def _rule(path: str, section: str, operation: str, value: str, rule_format: str) -> Rule:
    where = f"property_protection_file {path}: [{section}] {operation}"
    items = [item.strip() for item in value.split(",") if item.strip()]
    if EVERYONE in items and NOBODY in items:
        raise ConfigError(f"{where}: '@' (everyone) and '!' (nobody) cannot both be given")
    if not items:
        LOG.warning("%s is empty: nobody may %s such properties", where, operation)
        return Rule()
    if EVERYONE in items:
        return Rule(everyone=True)
    if NOBODY in items:
        return Rule()
    if rule_format == "policies":
        if len(items) != 1:
            raise ConfigError(f"{where}: the policies format takes one policy rule name, "
                              f"not {value!r}")
        return Rule(policy=items[0])
    return Rule(roles=frozenset(item.lower() for item in items))
