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
    headers = {}
    if args.project:
        headers = {"X-Project-Id": args.project, "X-Roles": args.roles}
    try:
        image = import_snapshot(ApiClient(args.os_image_url, headers), args.source, args.name,
                                args.copy, args.disk_format, progress=not args.quiet)
    except ApiError as exc:
        print(f"glancelab snapshot import: {exc}", file=sys.stderr)
        return 1
    kind = "copied" if args.copy else "registered (data left in place)"
    print(f"{image['id']}  {image['name']}  {image['status']}  {image['size']} bytes  {kind}")
    return 0


def cmd_lab(args) -> int:
    from glancelab_toolkit import labs
    try:
        if args.lab_command == "list":
            for lab in labs.all_labs():
                hosts = ", ".join(f"{n} {a}" for n, a in lab.hosts.items())
                print(f"{lab.number:<5} {lab.slug:<24} {lab.title['en']}  [{hosts}]")
            return 0
        lab = labs.find(args.number)
        if args.lab_command == "guide":
            print(lab.guide(args.lang))
            return 0
        return {"run": labs.run, "check": labs.check_only, "reset": labs.reset}[args.lab_command](lab)
    except labs.LabError as exc:
        print(f"glancelab lab: {exc}", file=sys.stderr)
        return 2


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
    s_import.add_argument("--project", help="act as this project (X-Project-Id)")
    s_import.add_argument("--roles", default="member,reader")
    s_import.add_argument("--quiet", action="store_true", help="no progress bar")
    s_import.set_defaults(func=cmd_snapshot_import)
    lab = sub.add_parser("lab", help="the Glance labs: list, guide, run, check, reset")
    lab_sub = lab.add_subparsers(dest="lab_command", required=True)
    lab_sub.add_parser("list", help="the labs")
    guide = lab_sub.add_parser("guide", help="a lab's guide")
    guide.add_argument("number")
    guide.add_argument("--lang", default="en", choices=["en", "vi"])
    for name, text in (("run", "start the hosts, play the lab, run its checks"),
                       ("check", "run a lab's checks again"),
                       ("reset", "return the lab's hosts to their starting state")):
        lab_sub.add_parser(name, help=text).add_argument("number")
    for p in lab_sub.choices.values():
        p.set_defaults(func=cmd_lab)
    return [snapshot, lab]
