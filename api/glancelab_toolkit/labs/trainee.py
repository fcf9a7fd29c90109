"""One trainee's lab state, address block and ports: one owner for that layout.

Everything a trainee's labs produce lives under their lab home, $GLANCELAB_LAB_HOME, by
default ~/.local/state/glancelab/labs (their own, even when several trainees share one
machine and one installation):

  hosts/                    the lab hosts (scripts/labhost's state, SSH key)
  slot                      this trainee's address block
  <lab>/state.json          not started / started / graded / finished, score, times
  <lab>/inventory.yml       the hosts and variables `start` chose, reused by grade and solve
  <lab>/runs/<action>-<t>/  what each start, solve and grade produced
  <lab>/attempts/<t>.json   each grade's result (for a trainer collecting them)

Ansible's SSH control sockets are the one exception: a socket's path must stay under
about 100 bytes, which a lab home need not, so they live in a short private directory
named by a hash of the lab home (/tmp/glancelab-ssh-UID/HASH).

Trainees on one machine get distinct slots: slot N moves every lab host from 127.0.0.X to
127.N.0.X and every shared service port up by N * PORT_STRIDE. Slots are claimed in a
machine-wide directory, one file per slot naming the lab home that owns it.
"""

from __future__ import annotations

import dataclasses
import datetime
import errno
import hashlib
import json
import os
import tempfile
import time

from glancelab_toolkit.i18n import _
from glancelab_toolkit.labs.spec import Lab, LabError

SLOTS_DIR = os.environ.get("GLANCELAB_LAB_SLOTS", "/tmp/glancelab-lab-slots")
MAX_SLOTS = 100
# The widest service (Ceph: a monitor and an OSD) opens 12 ports from its base.
PORT_STRIDE = 20


def default_home(environ=os.environ) -> str:
    if environ.get("GLANCELAB_LAB_HOME"):
        return os.path.abspath(environ["GLANCELAB_LAB_HOME"])
    base = environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                         "state")
    return os.path.join(base, "glancelab", "labs")


@dataclasses.dataclass(frozen=True)
class Trainee:
    home: str
    slot: int

    @classmethod
    def current(cls) -> "Trainee":
        home = default_home()
        os.makedirs(home, exist_ok=True)
        return cls(home=home, slot=claim_slot(home))

    # -- layout ------------------------------------------------------------------------------

    @property
    def hosts_dir(self) -> str:
        return os.path.join(self.home, "hosts")

    @property
    def ssh_control_dir(self) -> str:
        """This trainee's own directory of SSH control sockets (made here, mode 0700)."""
        digest = hashlib.sha1(os.path.abspath(self.home).encode()).hexdigest()[:12]
        base = os.path.join(tempfile.gettempdir(), f"glancelab-ssh-{os.getuid()}")
        path = os.path.join(base, digest)
        for directory in (base, path):
            os.makedirs(directory, mode=0o700, exist_ok=True)
        return path

    @property
    def ssh_config(self) -> str:
        """An ssh_config that keeps one connection a host open for the grader's commands:
        testinfra names no ControlPath of its own, so without one each command would
        open a new SSH connection (half a second each)."""
        control_dir = self.ssh_control_dir
        path = os.path.join(control_dir, "ssh_config")
        with open(path, "w") as handle:
            handle.write("Host *\n  ControlMaster auto\n  ControlPersist 60s\n"
                         f"  ControlPath {control_dir}/g-%C\n")
        return path

    def lab_dir(self, lab: Lab) -> str:
        return os.path.join(self.home, lab.slug)

    def inventory(self, lab: Lab) -> str:
        return os.path.join(self.lab_dir(lab), "inventory.yml")

    def new_run_dir(self, lab: Lab, action: str) -> str:
        path = os.path.join(self.lab_dir(lab), "runs", f"{action}-{_stamp()}")
        os.makedirs(path, exist_ok=True)
        return path

    def attempt_path(self, lab: Lab) -> str:
        path = os.path.join(self.lab_dir(lab), "attempts", f"{_stamp()}.json")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path

    # -- addresses ---------------------------------------------------------------------------

    def address(self, declared: str) -> str:
        """A lab host's address in this trainee's block (slot 0: the one lab.yml gives)."""
        octets = declared.split(".")
        if len(octets) != 4 or octets[0] != "127":
            raise LabError(_("lab host address {address} is not a loopback address").format(
                address=declared))
        return f"127.{self.slot}.{octets[2]}.{octets[3]}" if self.slot else declared

    def hosts(self, lab: Lab) -> dict[str, str]:
        return {name: self.address(address) for name, address in lab.hosts.items()}

    def port(self, base: int) -> int:
        return base + self.slot * PORT_STRIDE

    # -- state -------------------------------------------------------------------------------

    def state(self, lab: Lab) -> dict:
        try:
            with open(os.path.join(self.lab_dir(lab), "state.json")) as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return {"state": "not started"}

    def record(self, lab: Lab, **fields) -> None:
        state = {**self.state(lab), **fields}
        path = os.path.join(self.lab_dir(lab), "state.json")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(f"{path}.tmp", "w") as handle:
            json.dump(state, handle, indent=2)
        os.replace(f"{path}.tmp", path)


def _stamp() -> str:
    now = datetime.datetime.now()
    return now.strftime("%Y%m%d-%H%M%S-") + f"{now.microsecond:06d}"


def now_iso() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


# -- slots ---------------------------------------------------------------------------------------

def claim_slot(home: str) -> int:
    """This lab home's slot: kept once claimed; a slot whose owner is gone is free again."""
    mine = os.path.join(home, "slot")
    try:
        with open(mine) as handle:
            slot = int(handle.read())
        if _owner(slot) == home:
            return slot
    except (OSError, ValueError):
        pass
    os.makedirs(SLOTS_DIR, mode=0o1777, exist_ok=True)
    for slot in range(MAX_SLOTS):
        owner = _owner(slot)
        if owner == home:
            break
        if owner is not None and os.path.isdir(owner):
            continue
        if owner is not None:  # its lab home was removed: take it over
            _release(slot, owner)
        if _take(slot, home):
            break
    else:
        raise LabError(_("all {count} lab slots of this machine are taken (see {directory}); "
                         "in a lab home you no longer use, `glancelab lab finish` each of its "
                         "labs, then delete that directory: its slot is free again").format(
                             count=MAX_SLOTS, directory=SLOTS_DIR))
    with open(mine, "w") as handle:
        handle.write(str(slot))
    return slot


def release_slot(home: str) -> None:
    try:
        with open(os.path.join(home, "slot")) as handle:
            slot = int(handle.read())
    except (OSError, ValueError):
        return
    _release(slot, home)
    os.unlink(os.path.join(home, "slot"))


def _slot_file(slot: int) -> str:
    return os.path.join(SLOTS_DIR, str(slot))


def _owner(slot: int) -> str | None:
    try:
        with open(_slot_file(slot)) as handle:
            return handle.read().strip() or None
    except FileNotFoundError:
        return None


def _take(slot: int, home: str) -> bool:
    try:
        fd = os.open(_slot_file(slot), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as exc:
        if exc.errno == errno.EEXIST:
            return False
        raise
    with os.fdopen(fd, "w") as handle:
        handle.write(home)
    return True


def _release(slot: int, owner: str) -> None:
    # Only the owner named in the file: never another trainee's fresh claim.
    if _owner(slot) == owner:
        try:
            os.unlink(_slot_file(slot))
        except FileNotFoundError:
            pass


def age(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        seconds = time.time() - datetime.datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return iso
    for unit, size in ((_("{count} d ago"), 86400), (_("{count} h ago"), 3600),
                       (_("{count} min ago"), 60)):
        if seconds >= size:
            return unit.format(count=int(seconds // size))
    return _("just now")
