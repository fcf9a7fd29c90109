"""glance-api.conf style configuration.

Sections and keys are Glance's own ([DEFAULT] bind_port, [database] connection,
[glance_store] filesystem_store_datadir, ...), so what a trainee writes here is what
real Glance reads. Any key can be overridden from the environment as
GLANCELAB__<SECTION>__<KEY>, e.g. GLANCELAB__DATABASE__CONNECTION.
"""

from __future__ import annotations

import configparser
import os
import re

ENV_PREFIX = "GLANCELAB__"

# The embedded default: SQLite and a filesystem store under ./var, on loopback.
DEFAULTS: dict[tuple[str, str], str] = {
    ("DEFAULT", "bind_host"): "127.0.0.1",
    ("DEFAULT", "bind_port"): "9292",
    ("DEFAULT", "workers"): "2",
    ("DEFAULT", "auth_strategy"): "noauth",
    ("DEFAULT", "limit_param_default"): "25",
    ("DEFAULT", "api_limit_max"): "1000",
    ("DEFAULT", "image_size_cap"): "1099511627776",
    ("DEFAULT", "public_endpoint"): "",
    ("DEFAULT", "show_image_direct_url"): "false",
    ("DEFAULT", "show_multiple_locations"): "false",
    ("DEFAULT", "max_request_body_size"): "65536",
    ("DEFAULT", "debug"): "false",
    ("database", "connection"): "sqlite:///var/glance.sqlite",
    ("glance_store", "stores"): "file,http",
    ("glance_store", "default_store"): "file",
    ("glance_store", "filesystem_store_datadir"): "var/images",
    ("DEFAULT", "enabled_import_methods"): "glance-direct,web-download,copy-image",
    ("image_format", "require_image_format_match"): "true",
    ("image_format", "vmdk_allowed_types"): "monolithicSparse,streamOptimized",
    ("import_filtering_opts", "allowed_schemes"): "http,https",
    ("import_filtering_opts", "allowed_ports"): "80,443",
    # glancelab's own knobs, kept out of Glance's sections.
    ("glancelab", "import_workers"): "2",
    ("glancelab", "threads"): "8",
    ("glancelab", "noauth_project_id"): "admin",
    ("glancelab", "noauth_user_id"): "admin",
    ("glancelab", "noauth_roles"): "admin,member,reader",
    ("glancelab", "log_format"): "json",
}

_SIZE_UNITS = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message says which and why."""


def parse_size(text: str) -> int:
    """Bytes from '1073741824', '10GB', '512 MB' (1024-based, as Glance reads them)."""
    match = re.fullmatch(r"\s*(\d+)\s*([KMGT]?B)?\s*", text.upper())
    if not match:
        raise ConfigError(f"{text!r} is not a size: use bytes or a number with B, KB, MB, GB or TB")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2) or ""]


class Config:
    """Read-only view of an INI file plus environment overrides plus defaults."""

    def __init__(self, parser: configparser.ConfigParser | None = None,
                 environ: dict[str, str] | None = None, path: str | None = None):
        self._parser = parser or _new_parser()
        self._environ = dict(os.environ if environ is None else environ)
        self.path = path

    @classmethod
    def load(cls, path: str | None = None, environ: dict[str, str] | None = None,
             config_dir: str | None = None) -> "Config":
        """The file, then every *.conf of its config directory in name order (later wins).

        Like oslo.config, FILE.d next to the file (glance-api.conf.d) is read when it
        exists, so tools can each own one snippet instead of editing one file.
        """
        parser = _new_parser()
        files = []
        if path:
            if not os.path.exists(path):
                raise ConfigError(f"config file {path} does not exist")
            files.append(path)
            config_dir = config_dir or (f"{path}.d" if os.path.isdir(f"{path}.d") else None)
        if config_dir:
            if not os.path.isdir(config_dir):
                raise ConfigError(f"config directory {config_dir} does not exist")
            files += [os.path.join(config_dir, name) for name in sorted(os.listdir(config_dir))
                      if name.endswith(".conf")]
        try:
            parser.read(files)
        except configparser.Error as exc:
            raise ConfigError(f"cannot parse the configuration: {exc}") from None
        return cls(parser, environ, path)

    def get(self, section: str, key: str, default: str | None = None) -> str | None:
        env_key = f"{ENV_PREFIX}{section.upper()}__{key.upper()}"
        if env_key in self._environ:
            return self._environ[env_key]
        if self._parser.has_option(section, key):
            return self._parser.get(section, key)
        return DEFAULTS.get((section, key), default)

    def get_int(self, section: str, key: str, default: int | None = None) -> int | None:
        value = self.get(section, key)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"[{section}] {key} = {value!r} is not an integer") from None

    def get_bool(self, section: str, key: str, default: bool = False) -> bool:
        value = self.get(section, key)
        if value is None or value == "":
            return default
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"[{section}] {key} = {value!r} is not a boolean (true/false)")

    def get_list(self, section: str, key: str) -> list[str]:
        value = self.get(section, key) or ""
        return [item.strip() for item in value.split(",") if item.strip()]

    def get_size(self, section: str, key: str, default: int = 0) -> int:
        value = self.get(section, key)
        if value is None or value.strip() == "":
            return default
        try:
            return parse_size(value)
        except ConfigError as exc:
            raise ConfigError(f"[{section}] {key}: {exc}") from None

    def section(self, name: str) -> dict[str, str]:
        """Every key of a section (file, then environment), without defaults."""
        values = dict(self._parser.items(name)) if self._parser.has_section(name) else {}
        prefix = f"{ENV_PREFIX}{name.upper()}__"
        for env_key, value in self._environ.items():
            if env_key.startswith(prefix):
                values[env_key[len(prefix):].lower()] = value
        return values


def _new_parser() -> configparser.ConfigParser:
    # [DEFAULT] is an ordinary section in glance-api.conf, not a fallback for every other one.
    # strict=False: like oslo.config, a section may appear twice (later keys win).
    parser = configparser.ConfigParser(default_section="__no_defaults__", interpolation=None,
                                       strict=False)
    parser.optionxform = str.lower
    return parser
