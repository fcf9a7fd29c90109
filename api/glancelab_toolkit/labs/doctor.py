"""`glancelab lab doctor`: what this machine lacks to run the labs, each with its fix."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys

from glancelab_toolkit.i18n import _
from glancelab_toolkit.labs import hosts
from glancelab_toolkit.labs.spec import all_labs, home
from glancelab_toolkit.labs.trainee import Trainee


def _root():
    if os.geteuid() != 0:
        return _("lab hosts are namespaces made by root"), _("run the labs as root: sudo -i")


def _namespaces():
    if not shutil.which("unshare"):
        return _("unshare is missing"), "apt-get install -y util-linux"
    done = subprocess.run(["unshare", "--mount", "--uts", "--pid", "--fork", "true"],
                          capture_output=True, text=True)
    if done.returncode:
        return (_("cannot make mount/PID namespaces ({error})").format(
                    error=done.stderr.strip()),
                _("run on a host or a privileged container (labs need CAP_SYS_ADMIN)"))


def _overlayfs():
    with open("/proc/filesystems") as handle:
        if "overlay" not in handle.read():
            return _("the kernel has no overlayfs"), "modprobe overlay"


def _sshd():
    if not os.path.exists("/usr/sbin/sshd"):
        return _("sshd is missing (lab hosts are reached over SSH)"), \
            "apt-get install -y --no-install-recommends openssh-server"


def _host_python():
    if subprocess.run(["/usr/bin/python3", "-c", "import ensurepip, venv"],
                      capture_output=True).returncode:
        return _("/usr/bin/python3 cannot make virtualenvs (lab hosts install into one)"), \
            "apt-get install -y python3-venv"


def _curl():
    if not shutil.which("curl"):
        return _("curl is missing (the guides and the grader use it on the hosts)"), \
            "apt-get install -y curl"


def _haproxy():
    # lab hosts see this machine's programs: lab 2.8 runs HAProxy on one
    if not os.path.exists("/usr/sbin/haproxy"):
        return _("haproxy is missing (lab 2.8 puts it in front of two API nodes)"), \
            "apt-get install -y --no-install-recommends haproxy   " + _("(or: make labs)")


def _loop_devices():
    if not os.path.exists("/dev/loop-control"):
        return _("no loop devices (lab 2.5's LVM variant puts a volume group on one)"), \
            "modprobe loop"


def _toolkit():
    missing = [name for name in ("ansible_runner", "testinfra", "yaml")
               if importlib.util.find_spec(name) is None]
    if missing:
        return _("this Python lacks {modules}").format(modules=", ".join(missing)), \
            f"{sys.executable} -m pip install 'glancelab[labs]'   " + _("(or: make labs)")


def _keystone():
    # every lab's API asks the trainee's lab Keystone (scripts/services/keystone-up)
    installer = home().script("install-keystone")
    keystone = os.path.join(os.path.dirname(os.path.dirname(installer)), ".venv-keystone",
                            "bin", "keystone-manage")
    if not os.path.exists(keystone):
        return _("Keystone is not installed (every lab's API asks a Keystone)"), \
            f"{installer}   " + _("(or: make labs)")


def _free_addresses():
    trainee = Trainee.current()
    taken = []
    for lab in all_labs():
        for name, address in trainee.hosts(lab).items():
            if hosts.host_is_up(lab, trainee, name):
                continue  # our own host answers there
            with socket.socket() as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind((address, 22))
                except PermissionError:
                    continue  # not root: reported by the first check
                except OSError:
                    taken.append(f"{address}:22 ({lab.number} {name})")
    if taken:
        return _("addresses of your lab hosts are taken by something else: {addresses}")\
            .format(addresses=", ".join(taken)), \
            _("stop what listens there, or use another lab home: GLANCELAB_LAB_HOME=DIR "
              "(slot {slot} is yours now)").format(slot=trainee.slot)


CHECKS = [("root", _root), ("namespaces", _namespaces), ("overlayfs", _overlayfs),
          ("sshd", _sshd), ("python3 venv", _host_python), ("curl", _curl),
          ("haproxy", _haproxy), ("loop devices", _loop_devices), ("toolkit", _toolkit), ("keystone", _keystone),
          ("free addresses", _free_addresses)]


def doctor(out=sys.stdout) -> int:
    problems = 0
    ok, missing, fix_label = _("ok"), _("MISSING"), _("fix:")
    for name, check in CHECKS:
        found = check()
        if found is None:
            print(f"  {ok:<9}{name}", file=out)
        else:
            problems += 1
            problem, fix = found
            print(f"  {missing:<9}{name}: {problem}\n{'':11}{fix_label} {fix}", file=out)
    print(_("this machine can run the labs") if not problems else
          _("{count} thing(s) to fix before `glancelab lab start`").format(count=problems),
          file=out)
    return 1 if problems else 0
