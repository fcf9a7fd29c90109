"""The `glancelab` command."""

from __future__ import annotations

import argparse
import os
import sys

from glancelab import __version__, logs
from glancelab.config import Config, ConfigError


def _load_config(args) -> Config:
    return Config.load(args.config or os.environ.get("GLANCELAB_CONFIG"))


def cmd_serve(args) -> int:
    from glancelab import server
    config = _load_config(args)
    logs.configure(config.get("glancelab", "log_format"), config.get_bool("DEFAULT", "debug"))
    server.serve(config)
    return 0


def cmd_db_sync(args) -> int:
    from glancelab.db import bind, database
    from glancelab.db.migrations import sync, current_version
    config = _load_config(args)
    bind(config.get("database", "connection"))
    applied = sync(database.obj)
    print(f"database at version {current_version(database.obj)}"
          + (f" (applied {', '.join(map(str, applied))})" if applied else " (up to date)"))
    return 0


def cmd_stores_check(args) -> int:
    from glancelab.stores import StoreUnavailable, build_registry
    config = _load_config(args)
    registry = build_registry(config)
    failed = 0
    for store_id, problem in registry.check().items():
        store = registry.get(store_id)
        default = " (default)" if store_id == registry.default_id else ""
        if problem is None:
            print(f"ok      {store_id}{default} [{store.type}]")
        else:
            failed += 1
            kind = "down" if isinstance(problem, StoreUnavailable) else "broken"
            print(f"{kind:<7} {store_id}{default} [{store.type}]: {problem}")
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="glancelab", description=__doc__)
    parser.add_argument("--version", action="version", version=f"glancelab {__version__}")
    parser.add_argument("--config", help="glance-api.conf style file "
                        "(default: $GLANCELAB_CONFIG, else built-in defaults under ./var)")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the API server")
    serve.set_defaults(func=cmd_serve)
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("sync", help="create or migrate the schema").set_defaults(func=cmd_db_sync)
    stores = sub.add_parser("stores", help="image stores")
    stores_sub = stores.add_subparsers(dest="stores_command", required=True)
    stores_sub.add_parser("check", help="check that every configured store works"
                          ).set_defaults(func=cmd_stores_check)
    for p in (serve, db, stores):
        p.add_argument("--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not hasattr(args, "config"):
        args.config = None
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"glancelab: configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
