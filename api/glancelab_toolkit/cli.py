"""The toolkit's commands: `glancelab lab ...` and `glancelab snapshot import`.

They talk to a running API (snapshot import) or to lab hosts (labs), never to the server's
own code, so they work from an installed wheel on any machine.
"""

from __future__ import annotations

import argparse
import os
import sys


def cmd_snapshot_import(args) -> int:
    from glancelab_toolkit.client import ApiClient, ApiError
    from glancelab_toolkit.snapshot import import_snapshot
    try:
        headers = _auth_headers(args)
        image = import_snapshot(ApiClient(args.os_image_url, headers), args.source, args.name,
                                args.copy, args.disk_format, progress=not args.quiet)
    except ApiError as exc:
        print(f"glancelab snapshot import: {exc}", file=sys.stderr)
        return 1
    kind = "copied" if args.copy else "registered (data left in place)"
    print(f"{image['id']}  {image['name']}  {image['status']}  {image['size']} bytes  {kind}")
    return 0


def cmd_dashboard(args) -> int:
    from glancelab_toolkit.dashboard.server import from_config, serve
    api_url, keystone_url = args.api_url, args.keystone_url
    if args.config:  # a node's glance-api.conf names its API and its Keystone
        found = from_config(args.config)
        api_url = api_url or found["api_url"]
        keystone_url = found["keystone_url"] if keystone_url is None else keystone_url
    api_url = api_url or os.environ.get("OS_IMAGE_URL", "http://127.0.0.1:9292")
    if keystone_url is None:
        keystone_url = os.environ.get("OS_AUTH_URL", "")
    return serve(api_url, keystone_url or None, args.host, args.port,
                 args.cache_node, args.lab_homes, args.https)


def cmd_lab(args) -> int:
    from glancelab_toolkit import i18n
    from glancelab_toolkit.i18n import _
    from glancelab_toolkit.labs import cycle, doctor, spec
    from glancelab_toolkit.labs.trainee import Trainee
    i18n.use(args.lang)
    command = args.lab_command
    if command == "check" and args.step is None:
        command = "grade"  # the whole lab
    try:
        if command == "list":
            trainee = Trainee.current()
            for lab in spec.all_labs():
                where = ", ".join(f"{n} {a}" for n, a in trainee.hosts(lab).items())
                print(f"{lab.number:<5} {lab.slug:<24} {lab.title_in()}  [{where}]")
            return 0
        if command == "doctor":
            return doctor.doctor()
        if command == "prepare":
            from glancelab_toolkit.labs.preparing import prepare_machine
            return prepare_machine()
        if command == "status":
            return cycle.status(Trainee.current())
        if command == "exam":
            from glancelab_toolkit.labs import exam
            if args.action == "grade":
                return exam.grade(exam.the_exam(), Trainee.current())
            if args.action == "end":
                return exam.end(Trainee.current())
            return exam.begin(Trainee.current(), args.minutes)
        lab = spec.find(args.number)
        if command == "guide":
            from glancelab_toolkit.labs.terminal import show_guide
            show_guide(lab.guide(), raw=args.raw)
            return 0
        trainee = Trainee.current()
        if command == "ssh":
            return cycle.ssh(lab, trainee, args.host, args.command)
        if command == "grade":
            return cycle.grade(lab, trainee, args.show_fix)
        if command == "check":
            return cycle.check(lab, trainee, args.step, args.show_fix)
        return getattr(cycle, command)(lab, trainee)
    except spec.LabError as exc:
        print(f"glancelab lab: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nglancelab lab: " + _("interrupted; run the same command again to go on"),
              file=sys.stderr)
        return 130
    except BrokenPipeError:  # `glancelab lab status | head -2`: the reader had enough
        _quiet_stdout()
        return 0
    except Exception:  # a trainee never sees a traceback: it goes to a file they can send
        import tempfile
        import traceback
        with tempfile.NamedTemporaryFile("w", prefix="glancelab-lab-", suffix=".log",
                                         delete=False) as log:
            traceback.print_exc(file=log)
        print(f"glancelab lab {args.lab_command}: " + _(
            "something went wrong inside glancelab; the details are in {log} (send it to your "
            "trainer). `glancelab lab doctor` checks this machine.").format(log=log.name),
            file=sys.stderr)
        return 3


def _quiet_stdout() -> None:
    # Python would report the broken pipe again as it flushes stdout on exit.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _auth_headers(args) -> dict[str, str]:
    """A token given (--os-auth-token, OS_AUTH_TOKEN), else one from Keystone when an openrc
    is sourced (OS_AUTH_URL, OS_USERNAME, ...), else noauth's identity headers."""
    from glancelab_toolkit.client import ApiError
    if args.os_auth_token:
        return {"X-Auth-Token": args.os_auth_token}
    env = os.environ
    if env.get("OS_AUTH_URL") and env.get("OS_PASSWORD"):
        from keystoneauth1 import exceptions, session
        from keystoneauth1.identity import v3
        auth = v3.Password(auth_url=env["OS_AUTH_URL"], username=env.get("OS_USERNAME"),
                           password=env["OS_PASSWORD"], project_name=env.get("OS_PROJECT_NAME"),
                           user_domain_name=env.get("OS_USER_DOMAIN_NAME", "Default"),
                           project_domain_name=env.get("OS_PROJECT_DOMAIN_NAME", "Default"))
        try:
            return {"X-Auth-Token": session.Session(auth=auth).get_token()}
        except exceptions.ClientException as exc:
            raise ApiError(f"Keystone at {env['OS_AUTH_URL']} gave no token: {exc}; check "
                           "the openrc you sourced") from None
    if args.project:
        return {"X-Project-Id": args.project, "X-Roles": args.roles}
    return {}


def add_commands(sub) -> list[argparse.ArgumentParser]:
    """Add the toolkit's subcommands to the glancelab command line; returns their parsers."""
    snapshot = sub.add_parser("snapshot", help="images from snapshots")
    snapshot_sub = snapshot.add_subparsers(dest="snapshot_command", required=True)
    s_import = snapshot_sub.add_parser("import", help="register a snapshot file or VG/LV as an "
                                                      "image (0 bytes), or upload it (--copy)")
    s_import.add_argument("source", help="a file, a block device or VG/LV")
    s_import.add_argument("--name", help="image name (default: the file name)")
    s_import.add_argument("--copy", action="store_true", help="upload the data instead")
    s_import.add_argument("--disk-format", default="raw")
    s_import.add_argument("--os-image-url", default=os.environ.get("OS_IMAGE_URL",
                                                                   "http://127.0.0.1:9292"))
    s_import.add_argument("--os-auth-token", default=os.environ.get("OS_AUTH_TOKEN") or None,
                          help="a Keystone token (default: $OS_AUTH_TOKEN, else one for the "
                               "sourced openrc)")
    s_import.add_argument("--project", help="noauth: act as this project (X-Project-Id)")
    s_import.add_argument("--roles", default="member,reader")
    s_import.add_argument("--quiet", action="store_true", help="no progress bar")
    s_import.set_defaults(func=cmd_snapshot_import)
    lab = sub.add_parser("lab", help="the Glance labs: start, grade, solve, finish, ...")
    lab_sub = lab.add_subparsers(dest="lab_command", required=True)
    lab_sub.add_parser("list", help="the labs, with your hosts' addresses")
    lab_sub.add_parser("status", help="where you are in every lab, and your last scores")
    lab_sub.add_parser("doctor", help="what this machine lacks to run the labs")
    lab_sub.add_parser("prepare", help="make once what every lab start reuses (the hosts' "
                                       "installs, the Keystone database)")
    guide = lab_sub.add_parser("guide", help="a lab's guide (rendered on a terminal)")
    guide.add_argument("number")
    guide.add_argument("--raw", action="store_true", help="the Markdown itself")
    for name, text in (("start", "fresh hosts in the exercise's starting state"),
                       ("grade", "check your work: PASS/FAIL per item, with hints"),
                       ("check", "check one step of the guide (without STEP: grade)"),
                       ("solve", "play the solution on your hosts"),
                       ("finish", "stop and remove the lab's hosts (attempts are kept)"),
                       ("run", "start + solve + grade, for CI and operators"),
                       ("reset", "blank hosts again (nothing installed)")):
        lab_sub.add_parser(name, help=text).add_argument("number")
    lab_sub.choices["check"].add_argument("step", nargs="?", help="a step of the guide")
    for name in ("grade", "check"):
        lab_sub.choices[name].add_argument("--show-fix", action="store_true",
                                           help="show each failed item's fix, not only a hint")
    exam = lab_sub.add_parser("exam", help="the review exam: goals only, against the clock")
    exam.add_argument("action", nargs="?", choices=["start", "grade", "end"], default="start",
                      help="start (or show the goals and the time left), grade, end (hand in)")
    exam.add_argument("--minutes", type=float, help="the time limit (a trainer's choice)")
    ssh = lab_sub.add_parser("ssh", help="a shell (or a command) on a lab host")
    ssh.add_argument("number")
    ssh.add_argument("host", nargs="?", help="default: the lab's first host")
    ssh.add_argument("command", nargs=argparse.REMAINDER, help="run this instead of a shell")
    for p in lab_sub.choices.values():
        p.set_defaults(func=cmd_lab)
        p.add_argument("--lang", choices=["en", "vi"], default=None,
                       help="en or vi (default: $GLANCELAB_LANG, else the locale)")
    dashboard = sub.add_parser("dashboard", help="web pages over an image API: images, "
                                                 "stores, quotas")
    dashboard.add_argument("--api-url", help="the image API (default: what --config "
                                             "names, else $OS_IMAGE_URL, else "
                                             "http://127.0.0.1:9292)")
    dashboard.add_argument("--keystone-url", help="log users in there (default: what --config "
                                                  "names, else $OS_AUTH_URL); empty: a noauth "
                                                  "API, no login, loopback only")
    dashboard.add_argument("--host", default="127.0.0.1")
    dashboard.add_argument("--port", type=int, default=9393)
    dashboard.add_argument("--cache-node", action="append", metavar="URL",
                           help="an API node whose cache the cache page shows (repeat; "
                                "default: the API)")
    dashboard.add_argument("--https", action="store_true",
                           help="browsers reach it over HTTPS (a TLS proxy in front): its "
                                "cookies are then sent over HTTPS only")
    dashboard.add_argument("--lab-homes", metavar="DIR",
                           help="a trainer's directory of trainees' lab homes (the class page)")
    dashboard.set_defaults(func=cmd_dashboard)
    return [snapshot, lab, dashboard]
