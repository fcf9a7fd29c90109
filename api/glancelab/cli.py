"""The `glancelab` command."""

from __future__ import annotations

import argparse
import os
import sys

from oslo_config import cfg

from glancelab import __version__, logs
from glancelab import conf
from glancelab.conf import Config, ConfigError
from glancelab.db import statuses


def _load_config(args) -> Config:
    return conf.load(args.config or os.environ.get("GLANCELAB_CONFIG"),
                     config_dir=getattr(args, "config_dir", None))


def cmd_serve(args) -> int:
    from glancelab import server
    config = _load_config(args)
    logs.configure(config.glancelab.log_format, config.debug)
    server.serve(config)
    return 0


def cmd_db_migrate(args) -> int:
    """db sync (expand then contract), db expand, db contract."""
    from glancelab.db import bind_config, database, migrations
    config = _load_config(args)
    bind_config(config)
    step = {"sync": migrations.sync, "expand": migrations.expand,
            "contract": migrations.contract}[args.phase]
    try:
        applied = step(database.obj)
    except migrations.ContractRefused as exc:
        print(f"glancelab db contract: {exc}", file=sys.stderr)
        return migrations.EXPAND_NEEDED
    print(f"database at version {migrations.current_version(database.obj)}"
          + (f" (applied {', '.join(map(str, applied))})" if applied else " (up to date)"))
    return 0


def cmd_db_check(args) -> int:
    """Exit 0 when up to date, 3 when expand is needed, 5 when contract is (as Glance)."""
    from glancelab.db import bind_config, database, migrations
    config = _load_config(args)
    bind_config(config)
    state = migrations.check(database.obj)
    print({migrations.UP_TO_DATE: "database is up to date",
           migrations.EXPAND_NEEDED: "expand needed: run `glancelab db expand` "
                                     f"(migrations {migrations.pending(database.obj, 'expand')})",
           migrations.CONTRACT_NEEDED: "contract needed once every API node runs this "
                                       "release: `glancelab db contract` (migrations "
                                       f"{migrations.pending(database.obj, 'contract')})"}[state])
    return state


def cmd_config_check(args) -> int:
    from glancelab.conf import check
    path = args.file or args.config or os.environ.get("GLANCELAB_CONFIG")
    if not path:
        print("glancelab config check: name the file, e.g. glancelab config check "
              "/etc/glance/glance-api.conf", file=sys.stderr)
        return 2
    from glancelab import stores
    return check.run(path, sys.stdout, checks=[_policy_problems], describe=stores.describe)


def _policy_problems(config):
    """The policy file parsed as the service will parse it at start."""
    from glancelab.identity.policy import Policy
    try:
        Policy(config).load()
    except Exception as exc:  # noqa: BLE001 - oslo.policy raises YAML, JSON and rule errors
        reason = " ".join(str(exc).split())
        yield "error", (f"[oslo_policy] policy_file cannot be used: {reason}; the service "
                        "would not start with it")


def cmd_config_get(args) -> int:
    """One option's value as glancelab reads it: the file, then its .d snippets in name order."""
    config = _load_config(args)
    try:
        group = config.oslo if args.section == "DEFAULT" else config.group(args.section)
        value = group[args.key]
    except (KeyError, cfg.NoSuchOptError, cfg.NoSuchGroupError):
        print(f"glancelab config get: no option {args.key} in [{args.section}]; "
              "`glancelab config check` lists what is set", file=sys.stderr)
        return 2
    if isinstance(value, dict):
        value = ", ".join(f"{k}:{v}" for k, v in value.items())
    elif isinstance(value, list):
        value = ", ".join(str(item) for item in value)
    print("" if value is None else value)
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


def cmd_stores_orphans(args) -> int:
    """Store files no image names: listed; deleted only with --delete."""
    from glancelab import recovery
    from glancelab.stores import build_registry
    config = _load_config(args)
    _bind_database(config)
    registry = build_registry(config)
    found = recovery.find_orphans(registry, min_age_seconds=args.min_age)
    for store_id, paths in found.items():
        for path in paths:
            if args.delete:
                registry.get(store_id).delete_orphan(path)
            print(f"{'deleted' if args.delete else 'orphan '} {store_id} {path}")
    count = sum(len(paths) for paths in found.values())
    if count and not args.delete:
        print(f"{count} file(s) belong to no image. If the [database] connection is right, "
              "run again with --delete to remove them.")
    elif not count:
        print("no orphan files")
    return 0


def cmd_db_relocate(args) -> int:
    """Point file:// locations under OLD at NEW (after moving a filesystem store)."""
    import peewee
    from glancelab.db.models import ImageLocation
    config = _load_config(args)
    _bind_database(config)
    old = "file://" + os.path.abspath(args.old).rstrip("/") + "/"
    new = "file://" + os.path.abspath(args.new).rstrip("/") + "/"
    moved = (ImageLocation
             .update(url=peewee.fn.REPLACE(ImageLocation.url, old, new))
             .where(ImageLocation.url.startswith(old))
             .execute())
    print(f"relocated {moved} location(s) from {old} to {new}")
    return 0


def cmd_db_load_metadefs(args) -> int:
    """Load metadata definition namespaces (Glance's glance-manage db load_metadefs)."""
    from glancelab.metadefs import loader as metadef_loader
    config = _load_config(args)
    _bind_database(config)
    try:
        results = metadef_loader.load(args.path or metadef_loader.SHIPPED, args.overwrite)
    except (OSError, ValueError) as exc:
        print(f"load-metadefs: {exc}", file=sys.stderr)
        return 1
    for name, outcome in results:
        print(f"{name}: {outcome}")
    return 0


def _bind_database(config):
    from glancelab.db import bind_config, database
    from glancelab.db.migrations import expand
    bind_config(config)
    expand(database.obj)  # never contract: nodes of the previous release may still run


def cmd_quota(args) -> int:
    import json
    from glancelab import errors
    from glancelab.quotas import service as quotas
    config = _load_config(args)
    settings = quotas.QuotaSettings.from_config(config)
    _bind_database(config)
    if args.quota_command == "set":
        values = {r: getattr(args, r) for r in quotas.RESOURCES if getattr(args, r) is not None}
        values = {r: (None if v == "default" else int(v)) for r, v in values.items()}
        if not values:
            print("glancelab quota set: give at least one limit, e.g. --image-size-total 1024",
                  file=sys.stderr)
            return 2
        try:
            quotas.set_limits(args.project, values)
        except errors.GlanceError as exc:
            print(f"glancelab quota set: {exc.description}", file=sys.stderr)
            return 2
    projects = quotas.projects_with_limits() if args.quota_command == "list" else [args.project]
    rows = []
    for project in projects:
        limits, usage = quotas.limits_for(settings, project), quotas.usage_for(project)
        rows.append({"project_id": project, "limits": limits, "usage": usage})
    if args.json:
        print(json.dumps(rows if args.quota_command == "list" else rows[0], indent=2))
        return 0
    if not settings.unified:
        print("note: per-project limits are not enforced: set use_keystone_limits = true")
    for row in rows:
        print(f"project {row['project_id']}")
        for resource in quotas.RESOURCES:
            limit = row["limits"][resource]
            unit = " MiB" if resource.startswith("image_s") else ""
            shown = "unlimited" if limit == quotas.UNLIMITED else f"{limit}{unit}"
            print(f"  {resource:<22} limit {shown:<14} usage {row['usage'][resource]}{unit}")
    return 0


def _health_url(args) -> tuple[str | None, str | None]:
    """(the /healthcheck URL this node's configuration names, or None and why not)."""
    from glancelab.health import service
    try:
        config = _load_config(args)
    except ConfigError as exc:
        return None, f"its configuration cannot be read: {exc}"
    return service.health_url(config.bind_host, config.bind_port), None


def _print_log(path: str | None, lines: list[str]) -> None:
    if lines:
        print(f"The last lines of its log ({path}):")
        for line in lines:
            print(f"  {line}")


def cmd_service_wait(args) -> int:
    """After a start: 0 once /healthcheck answers 200; else 1 with the reason."""
    from glancelab.health import service
    url, unreadable = _health_url(args)
    up, said = service.wait(url, args.pid, args.pid_file, args.timeout)
    print(said)
    if up:
        return 0
    if unreadable:  # the whole story: the server refused the same file
        print(f"{service.NAME}: {unreadable}")
    else:
        _print_log(args.log, service.log_tail(args.log, args.log_from))
    print(f"Fix what it names, then start {service.NAME} again.")
    return 1


def cmd_service_status(args) -> int:
    """Running or not, healthy or not, and the log's last lines when it is not running."""
    from glancelab.health import service
    url, _unreadable = _health_url(args)
    pid = args.pid if args.pid is not None else service.pid_in(args.pid_file)
    code, said = service.status(url, pid)
    print(said)
    if code != 0:
        _print_log(args.log, service.log_tail(args.log))
    return code


def cmd_cache(args) -> int:
    from glancelab.app import build_runtime
    from glancelab.cache import entry_view
    from glancelab.cache import service as cache_service
    config = _load_config(args)
    rt = build_runtime(config)
    if rt.cache is None:
        print("glancelab cache: the image cache is not enabled; set image_cache_dir in "
              "glance-api.conf", file=sys.stderr)
        return 2
    rt.cache.prepare()
    command = args.cache_command
    if command in ("queue", "prefetch"):
        _bind_database(config)
    if command == "list":
        entries = rt.cache.cached()
        print(f"{'image id':<36}  {'size':>12}  {'hits':>5}  last accessed")
        for entry in entries:
            view = entry_view(entry)
            print(f"{view['image_id']:<36}  {view['size']:>12}  {view['hits']:>5}  "
                  f"{entry.last_accessed:%Y-%m-%d %H:%M:%S}")
        total = rt.cache.total_size()
        partial = total - sum(e.size for e in entries)
        print(f"{len(entries)} cached, {total} of {rt.cache.max_size} bytes"
              f"{f' ({partial} in copies being written)' if partial else ''}; "
              f"{len(rt.cache.queued())} queued")
    elif command == "queue":
        from glancelab.db.models import Image
        image = Image.get_or_none(Image.id == args.image_id)
        if image is None or image.status != statuses.ACTIVE:
            print(f"glancelab cache queue: {args.image_id} is not an active image", file=sys.stderr)
            return 1
        rt.cache.queue(args.image_id)
        print(f"queued {args.image_id}; `glancelab cache prefetch` caches it")
    elif command == "delete":
        if not rt.cache.delete(args.image_id):
            print(f"glancelab cache delete: {args.image_id} is not cached", file=sys.stderr)
            return 1
        print(f"deleted {args.image_id} from the cache")
    elif command == "prune":
        with rt.cache.maintenance():
            removed = rt.cache.prune()
        print(f"pruned {len(removed)} image(s); cache now {rt.cache.total_size()} of "
              f"{rt.cache.max_size} bytes")
    elif command == "clean":
        with rt.cache.maintenance():
            removed = rt.cache.clean(verify=args.verify)
        print(f"cleaned {len(removed)} stalled or invalid file(s)")
        for path in removed:
            print(f"  {path}")
    elif command == "prefetch":
        results = cache_service.prefetch(rt)
        for image_id, outcome in results.items():
            print(f"{image_id}: {outcome}")
        print(f"prefetched {sum(r == 'cached' for r in results.values())} of {len(results)}")
        return 1 if any(r.startswith("failed") for r in results.values()) else 0
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="glancelab", description=__doc__)
    parser.add_argument("--version", action="version", version=f"glancelab {__version__}")
    parser.add_argument("--config", help="glance-api.conf style file "
                        "(default: $GLANCELAB_CONFIG, else built-in defaults under ./var)")
    parser.add_argument("--config-dir", help="also read every *.conf here, in name order "
                        "(default: FILE.d next to --config when it exists)")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the API server")
    serve.set_defaults(func=cmd_serve)
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    for phase, text in (("sync", "create or migrate the schema: expand, then contract "
                                 "(offline upgrades)"),
                        ("expand", "apply the additive migrations (nodes of the previous "
                                   "release keep working)"),
                        ("contract", "apply the migrations that remove what the previous "
                                     "release reads: once every node is upgraded")):
        db_sub.add_parser(phase, help=text).set_defaults(func=cmd_db_migrate, phase=phase)
    db_sub.add_parser("check", help="exit 0 when up to date, 3 when expand is needed, 5 when "
                                    "contract is").set_defaults(func=cmd_db_check)
    relocate = db_sub.add_parser("relocate", help="rewrite file:// locations after moving a "
                                                  "filesystem store directory")
    relocate.add_argument("old", help="the directory the images were in")
    relocate.add_argument("new", help="the directory they are in now")
    relocate.set_defaults(func=cmd_db_relocate)
    load = db_sub.add_parser("load-metadefs", help="load metadata definition namespaces "
                                                   "(the shipped set unless --path)")
    load.add_argument("--path", help="a directory of namespace *.json files")
    load.add_argument("--overwrite", action="store_true",
                      help="replace namespaces that already exist")
    load.set_defaults(func=cmd_db_load_metadefs)
    config_cmd = sub.add_parser("config", help="glance-api.conf")
    config_sub = config_cmd.add_subparsers(dest="config_command", required=True)
    check = config_sub.add_parser("check", help="unknown keys, bad values and what each store "
                                                "will use")
    check.add_argument("file", nargs="?", help="default: --config or $GLANCELAB_CONFIG")
    check.set_defaults(func=cmd_config_check)
    get = config_sub.add_parser("get", help="the value glancelab uses for one option")
    get.add_argument("section", help="DEFAULT, glance_store, a backend's name, ...")
    get.add_argument("key")
    get.set_defaults(func=cmd_config_get)
    stores = sub.add_parser("stores", help="image stores")
    stores_sub = stores.add_subparsers(dest="stores_command", required=True)
    stores_sub.add_parser("check", help="check that every configured store works"
                          ).set_defaults(func=cmd_stores_check)
    orphans = stores_sub.add_parser("orphans", help="list store files no image names "
                                                    "(--delete removes them)")
    orphans.add_argument("--delete", action="store_true", help="remove what is listed")
    orphans.add_argument("--min-age", type=float, default=300.0,
                         help="skip files younger than this many seconds (default 300: an "
                              "upload may be finishing on another node)")
    orphans.set_defaults(func=cmd_stores_orphans)
    quota = sub.add_parser("quota", help="per-project limits (Glance's unified limit names)")
    quota_sub = quota.add_subparsers(dest="quota_command", required=True)
    q_set = quota_sub.add_parser("set", help="set limits of a project (MiB for sizes; -1 "
                                             "unlimited; 'default' removes the override)")
    q_set.add_argument("project")
    for resource in ("image_size_total", "image_stage_total", "image_count_total",
                     "image_count_uploading"):
        q_set.add_argument("--" + resource.replace("_", "-"), dest=resource)
    q_show = quota_sub.add_parser("show", help="limits and usage of a project")
    q_show.add_argument("project")
    quota_sub.add_parser("list", help="projects with their own limits")
    for p in (q_set, q_show, quota_sub.choices["list"]):
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.set_defaults(func=cmd_quota)
    cache = sub.add_parser("cache", help="this node's image cache (suits cron)")
    cache_sub = cache.add_subparsers(dest="cache_command", required=True)
    cache_sub.add_parser("list", help="cached and queued images")
    cache_sub.add_parser("queue", help="queue an image for the prefetcher").add_argument("image_id")
    cache_sub.add_parser("delete", help="drop a cached image").add_argument("image_id")
    cache_sub.add_parser("prune", help="drop least recently used images down to "
                                       "image_cache_max_size")
    cache_sub.add_parser("clean", help="drop stalled partial files and invalid entries"
                         ).add_argument("--verify", action="store_true",
                                        help="also re-check every file's md5")
    cache_sub.add_parser("prefetch", help="cache the queued images now")
    for p in cache_sub.choices.values():
        p.set_defaults(func=cmd_cache)
    service = sub.add_parser("service", help="whether this node's API is up (for its init "
                             "script and systemd unit)")
    service_sub = service.add_subparsers(dest="service_command", required=True)
    wait = service_sub.add_parser("wait", help="after a start: exit 0 once /healthcheck "
                                  "answers 200, else 1 with the reason and the log's lines")
    wait.add_argument("--timeout", type=float, default=60.0)
    wait.add_argument("--log-from", type=int, default=0,
                      help="the log's size before the start: only lines after it are shown")
    wait.set_defaults(func=cmd_service_wait)
    status = service_sub.add_parser("status", help="running or not, healthy or not, and why "
                                    "(LSB codes: 0 running, 1 dead, 3 stopped)")
    status.set_defaults(func=cmd_service_status)
    for p in (wait, status):
        p.add_argument("--pid", type=int, help="the server's process id (systemd's $MAINPID)")
        p.add_argument("--pid-file", help="the file holding it (an init script's)")
        p.add_argument("--log", help="the server's log file")
    # The toolkit's commands (labs, snapshot import) live in their own package.
    from glancelab_toolkit.cli import add_commands
    toolkit = add_commands(sub)
    for p in (serve, config_cmd, db, stores, quota, cache, service, *toolkit):
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
