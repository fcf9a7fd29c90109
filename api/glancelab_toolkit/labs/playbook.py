"""Playing a lab's playbook through ansible-runner, one line per task and host as it runs."""

from __future__ import annotations

import os
import sys
import time

from glancelab_toolkit.i18n import _
from glancelab_toolkit.labs.spec import home
from glancelab_toolkit.labs.trainee import Trainee


class Progress:
    """ansible-runner events as one line per task and host, as they happen."""

    def __init__(self, out=sys.stdout):
        self.out = out
        self.started = time.monotonic()

    def __call__(self, event: dict) -> bool:
        kind, data = event.get("event"), event.get("event_data", {})
        stamp = f"{time.monotonic() - self.started:6.1f}s"
        if kind == "playbook_on_play_start":
            self._print(f"{stamp}  " + _("PLAY") + f"  {_(data.get('play', ''))}")
        elif kind in ("runner_on_ok", "runner_on_failed", "runner_on_unreachable",
                      "runner_on_skipped"):
            result = data.get("res", {}) or {}
            status = {"runner_on_failed": _("FAILED"), "runner_on_unreachable": _("UNREACHABLE"),
                      "runner_on_skipped": _("skipped")}.get(kind)
            if status is None:
                status = _("changed") if result.get("changed") else _("ok")
            # the task's name in the trainee's language (babel.cfg extracts them)
            task = _(data.get("task", "")) if data.get("task") else ""
            line = f"{stamp}  {data.get('host', '?'):<10} {status:<11} {task}"
            if kind in ("runner_on_failed", "runner_on_unreachable"):
                line += f"\n{'':>20}{result.get('msg') or result.get('stderr') or ''}"
            self._print(line)
        return True

    def _print(self, line: str) -> None:
        print(line, file=self.out, flush=True)


def play(playbook: str, run_dir: str, inventory: str, trainee: Trainee) -> tuple[bool, float]:
    import ansible_runner
    started = time.monotonic()
    result = ansible_runner.run(
        private_data_dir=run_dir, playbook=home().content_path(playbook), inventory=inventory,
        envvars={"PATH": f"{os.path.dirname(sys.executable)}:{os.environ.get('PATH', '')}",
                 "ANSIBLE_ROLES_PATH": home().roles,
                 "ANSIBLE_CONFIG": home().ansible_cfg, "ANSIBLE_PIPELINING": "True",
                 # A trainee's own SSH control sockets: never another trainee's connection.
                 "ANSIBLE_SSH_CONTROL_PATH_DIR": trainee.ssh_control_dir},
        event_handler=Progress(), quiet=True)
    return result.rc == 0, time.monotonic() - started
