"""glance-api.conf, read through oslo.config with the option table in conf/options.py.

The file, then every *.conf of FILE.d (glance-api.conf.d) in name order, later wins; then
the environment: GLANCELAB__<SECTION>__<KEY> (e.g. GLANCELAB__DATABASE__CONNECTION).
Loading only reads: it creates no directory and opens no database or store.
"""

from __future__ import annotations

import os

from oslo_config import cfg

from glancelab.conf import options
from glancelab.conf.ini import Entry, scan

ENV_PREFIX = "GLANCELAB__"
IMPORT_PLUGINS_FILE = "glance-image-import.conf"


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message says which and why."""


class Config:
    """Typed, read-only values: `conf.workers`, `conf.glance_store.stores`, `conf.group(s)`."""

    def __init__(self, opts: cfg.ConfigOpts, files: list[str], entries: list[Entry],
                 backends: dict[str, str], path: str | None):
        self._opts = opts
        self.files = files
        self.entries = entries
        # store id -> store type, in the order glance-api.conf names them
        self.backends = backends
        self.path = path
        self.bad_values: list[str] = []  # load(strict=False) keeps them here

    def __getattr__(self, name: str):
        return getattr(self._opts, name)

    @property
    def oslo(self) -> cfg.ConfigOpts:
        """The ConfigOpts itself, for the libraries that read their own sections from it
        (keystonemiddleware, oslo.policy, oslo.limit), as they do in Glance."""
        return self._opts

    @property
    def bind_address(self) -> str:
        """host:port to listen on, an IPv6 address in brackets ([::1]:9292)."""
        host = self._opts.bind_host
        return f"[{host}]:{self._opts.bind_port}" if ":" in host else \
            f"{host}:{self._opts.bind_port}"

    @property
    def self_url(self) -> str:
        """This node's own URL, as other nodes reach it: worker_self_reference_url, else
        http://bind_address (as Glance: the stage host and the cache's node index)."""
        return (self._opts.worker_self_reference_url or f"http://{self.bind_address}").rstrip("/")

    def group(self, name: str):
        """The options of one section: a backend's, a reserved store's, or Glance's own."""
        return self._opts[name]

    @property
    def multistore(self) -> bool:
        return bool(self._opts.enabled_backends)

    @property
    def auth(self) -> str:
        """auth_strategy, or keystone when the paste pipeline says so (as Glance reads it)."""
        if self._opts.auth_strategy:
            return self._opts.auth_strategy
        flavor = (self._opts.paste_deploy.flavor or "").lower()
        return "keystone" if flavor.startswith("keystone") else "noauth"

    def registered(self) -> dict[str, dict[str, cfg.Opt]]:
        """Section -> key -> option, for every option this configuration knows."""
        known: dict[str, dict[str, cfg.Opt]] = {}
        for group, opts in _registered_groups(self._opts):
            known[group] = {opt.dest: opt for opt in opts}
        return known


def load(path: str | None = None, environ: dict[str, str] | None = None,
         config_dir: str | None = None, strict: bool = True) -> Config:
    """The configuration; a bad value raises ConfigError naming every bad value, unless
    not `strict` (config check), where they are the Config's `bad_values` instead."""
    files = _files(path, config_dir)
    try:
        entries = scan(files)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot parse the configuration: {exc}") from None
    opts = cfg.ConfigOpts()
    for group, group_opts in options.GROUPS.items():
        opts.register_opts(group_opts, group=None if group == "DEFAULT" else group)
    for group, defaults in (("healthcheck", options.HEALTHCHECK_DEFAULTS),
                            ("cors", options.CORS_DEFAULTS)):
        for key, value in defaults.items():
            opts.set_default(key, value, group=group)
    try:
        # Empty config dirs on purpose: oslo.config would otherwise look in /etc/glance.
        opts(args=[], default_config_files=files, default_config_dirs=[], use_env=False,
             validate_default_values=True)
    except cfg.Error as exc:
        raise ConfigError(f"cannot parse the configuration: {exc}") from None
    overrides = _environment(os.environ if environ is None else environ)
    _apply(opts, [o for o in overrides if o[0] == "DEFAULT"], entries)
    backends = _register_stores(opts, entries)
    _apply(opts, [o for o in overrides if o[0] != "DEFAULT"], entries)
    bad_values = _bad_values(opts, entries)
    if bad_values and strict:
        raise ConfigError("\n".join(bad_values))
    config = Config(opts, files, entries, backends, path)
    config.bad_values = bad_values
    return config


def _files(path: str | None, config_dir: str | None) -> list[str]:
    files = []
    if path:
        if not os.path.isfile(path):
            raise ConfigError(f"config file {path} does not exist")
        files.append(path)
        # Glance keeps the import plugins' options in a file of their own beside it.
        plugins_file = os.path.join(os.path.dirname(path), IMPORT_PLUGINS_FILE)
        if os.path.isfile(plugins_file) and not os.path.samefile(plugins_file, path):
            files.append(plugins_file)
        config_dir = config_dir or (f"{path}.d" if os.path.isdir(f"{path}.d") else None)
    if config_dir:
        if not os.path.isdir(config_dir):
            raise ConfigError(f"config directory {config_dir} does not exist")
        files += [os.path.join(config_dir, name) for name in sorted(os.listdir(config_dir))
                  if name.endswith(".conf")]
    return files


def _register_stores(opts: cfg.ConfigOpts, entries: list[Entry]) -> dict[str, str]:
    """Register each store's driver options in its section, as glance_store does."""
    for reserved in options.RESERVED_STORES:
        opts.register_opts([o for o in options.FILE_STORE_OPTS
                            if o.dest == "filesystem_store_datadir"], group=reserved)
    backends: dict[str, str] = {}
    enabled = _value(opts, "enabled_backends", None, entries) or {}
    for store_id, store_type in enabled.items():
        store_id, store_type = store_id.strip(), (store_type or "").strip()
        if store_type not in options.DRIVER_OPTS:
            raise ConfigError(f"enabled_backends entry {store_id}:{store_type}: use NAME:TYPE with "
                              f"TYPE one of {', '.join(sorted(options.DRIVER_OPTS))}")
        if store_id.startswith("os_glance_"):
            raise ConfigError(f"store name {store_id!r}: os_glance_ names are reserved")
        if store_id in options.GROUPS:
            raise ConfigError(f"store name {store_id!r} is one of glancelab's own sections; "
                              "choose another name")
        opts.register_opts(options.STORE_COMMON_OPTS + options.DRIVER_OPTS[store_type],
                           group=store_id)
        backends[store_id] = store_type
    if backends:
        return backends
    for store_type in _value(opts, "stores", "glance_store", entries):
        if store_type not in options.DRIVER_OPTS:
            raise ConfigError(f"[glance_store] stores: {store_type!r} is not a store type "
                              f"glancelab has; use {', '.join(sorted(options.DRIVER_OPTS))}")
        opts.register_opts(options.DRIVER_OPTS[store_type], group="glance_store")
        backends[store_type] = store_type
    if "file" in backends:
        # glance_store's default is /var/lib/glance/images; a try-out stays under ./var.
        opts.set_default("filesystem_store_datadir", "var/images", group="glance_store")
    return backends


def _environment(environ) -> list[tuple[str, str, str, str]]:
    """(section, key, value, variable) for each GLANCELAB__SECTION__KEY variable."""
    found = []
    for variable, value in environ.items():
        if not variable.startswith(ENV_PREFIX):
            continue
        section, sep, key = variable[len(ENV_PREFIX):].partition("__")
        if sep and section and key:
            section = "DEFAULT" if section.upper() == "DEFAULT" else section.lower()
            found.append((section, key.lower(), value, variable))
    return found


def _apply(opts: cfg.ConfigOpts, overrides, entries: list[Entry]) -> None:
    for section, key, value, variable in overrides:
        group = None if section == "DEFAULT" else _group_named(opts, section)
        if group is None and section != "DEFAULT":
            continue  # a section this configuration does not have: nothing reads it
        try:
            opt = opts._get_opt_info(key, group)["opt"]
        except cfg.NoSuchOptError:
            continue
        try:
            opts.set_override(key, [value] if opt.multi else value, group)
        except ValueError as exc:
            raise ConfigError(f"{variable} = {value!r}: {exc}") from None


def _group_named(opts: cfg.ConfigOpts, lowered: str) -> str | None:
    # Environment names are upper case; section names (store ids) keep their own case.
    return next((name for name in opts._groups if name.lower() == lowered), None)


def _registered_groups(opts: cfg.ConfigOpts):
    yield "DEFAULT", [info["opt"] for info in opts._opts.values()]
    for name, group in opts._groups.items():
        yield name, [info["opt"] for info in group._opts.values()]


def _value(opts: cfg.ConfigOpts, key: str, group: str | None, entries: list[Entry]):
    try:
        return opts[group][key] if group else opts[key]
    except (cfg.ConfigFileValueError, ValueError) as exc:
        raise ConfigError(_bad_value(group or "DEFAULT", key, entries, exc)) from None


def _bad_values(opts: cfg.ConfigOpts, entries: list[Entry]) -> list[str]:
    """Every option read once, so that a bad value stops the start with its line, not a
    request: each bad value's message."""
    problems = []
    for group, group_opts in _registered_groups(opts):
        for opt in group_opts:
            try:
                _value(opts, opt.dest, None if group == "DEFAULT" else group, entries)
            except ConfigError as exc:
                problems.append(str(exc))
    return problems


def _bad_value(section: str, key: str, entries: list[Entry], exc: Exception) -> str:
    reason = str(exc).rsplit(" is not valid: ", 1)[-1]
    for entry in reversed(entries):
        if entry.section == section and entry.key == key:
            if "#" in entry.value:
                reason += ("; glance-api.conf has no inline comments, so the '#' is part of "
                           "the value: put the comment on a line of its own")
            return (f"{entry.file}:{entry.line}: [{section}] {key} = {entry.value!r} is not "
                    f"valid: {reason}")
    return f"[{section}] {key} is not valid: {reason}"
