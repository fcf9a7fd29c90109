"""A lab's cycle for one trainee: start, (work by hand), grade, solve, finish.

`run` is start + solve + grade, for CI and for operators who want the lab done.
"""

from __future__ import annotations

import os
import sys

from glancelab_toolkit.i18n import _
from glancelab_toolkit.labs import grading, hosts, preparing
from glancelab_toolkit.labs.playbook import play
from glancelab_toolkit.labs.spec import Lab, LabError, all_labs, home
from glancelab_toolkit.labs.trainee import Trainee, age, now_iso


def start(lab: Lab, trainee: Trainee) -> int:
    """Fresh hosts brought to the exercise's starting state, then what to do next."""
    if lab.exam_minutes is not None:
        raise LabError(_("{number} is the review exam: `glancelab lab exam` starts it").format(
            number=lab.number))
    if not preparing.prepare(lab, trainee):
        return 1
    where = ", ".join(_("{host} at {address}").format(host=name, address=address)
                      for name, address in trainee.hosts(lab).items())
    first = next(iter(lab.hosts))
    host = "" if len(lab.hosts) == 1 else " " + first
    print("\n" + _("Lab {number} is ready: {where}.").format(number=lab.number, where=where))
    for label, command, note in (
            (_("the steps:"), f"glancelab lab guide {lab.number}", ""),
            (_("the host:"), f"glancelab lab ssh {lab.number}{host}",
             _("(admin-openrc is in root's home)")),
            (_("your score:"), f"glancelab lab grade {lab.number}", ""),
            (_("the answer:"), f"glancelab lab solve {lab.number}", _("(plays the solution)")),
            (_("clean up:"), f"glancelab lab finish {lab.number}", "")):
        print(f"  {label:<13}{command}{'   ' + note if note else ''}")
    return 0


def grade(lab: Lab, trainee: Trainee, show_fix: bool = False) -> int:
    if lab.exam_minutes is not None:
        from glancelab_toolkit.labs import exam
        return exam.grade(lab, trainee)
    inventory = hosts.saved_inventory(lab, trainee)
    print(_("Grading lab {number} on {hosts}...").format(
        number=lab.number, hosts=", ".join(trainee.hosts(lab))), flush=True)
    result = grading.grade(lab, trainee, inventory, trainee.new_run_dir(lab, "grade"))
    attempt = grading.save_attempt(result, lab, trainee)
    grading.print_grade(lab, result, attempt, show_fix, grading.failing_streaks(lab, trainee))
    trainee.record(lab, state="graded", score=result.score, graded_at=result.graded_at)
    if not result.all_passed:
        print(_("Fix what is listed and grade again; `glancelab lab solve {number}` shows "
                "the answer.").format(number=lab.number))
    return 0 if result.all_passed else 1


def check(lab: Lab, trainee: Trainee, step: str, show_fix: bool = False) -> int:
    """The checks of one step of the guide, while the trainee works (no attempt saved)."""
    inventory = hosts.saved_inventory(lab, trainee)
    print(_("Checking step {step} of lab {number}...").format(step=step, number=lab.number),
          flush=True)
    result = grading.grade(lab, trainee, inventory, trainee.new_run_dir(lab, "check"), step)
    grading.print_grade(lab, result, None, show_fix)
    if result.all_passed:
        print(_("Step {step} is done.").format(step=step))
    return 0 if result.all_passed else 1


def solve(lab: Lab, trainee: Trainee) -> int:
    if lab.exam_minutes is not None:
        from glancelab_toolkit.labs import exam
        exam.refuse_while_running(lab, trainee)
    inventory = hosts.saved_inventory(lab, trainee)
    run_dir = trainee.new_run_dir(lab, "solve")
    print(_("Lab {number}: playing the solution ({playbook})").format(
        number=lab.number, playbook=lab.solution), flush=True)
    ok, seconds = play(lab.solution, run_dir, inventory, trainee)
    if not ok:
        print("\n" + _("The solution failed on what the host has now; the failing task is "
                       "above, its output in {run_dir}. `glancelab lab start {number}` starts "
                       "over.").format(run_dir=run_dir, number=lab.number))
        return 1
    trainee.record(lab, state="solved", solved_at=now_iso())
    print(_("solution played in {seconds} s; `glancelab lab grade {number}` checks it").format(
        seconds=f"{seconds:.1f}", number=lab.number))
    return 0


def finish(lab: Lab, trainee: Trainee) -> int:
    """The lab's hosts and services gone; its attempts are kept."""
    hosts.destroy_hosts(lab, trainee)
    hosts.stop_services(lab, trainee)
    if os.path.exists(trainee.inventory(lab)):
        os.unlink(trainee.inventory(lab))
    trainee.record(lab, state="finished", finished_at=now_iso())
    print(_("lab {number} finished; its attempts stay in {path}").format(
        number=lab.number, path=os.path.join(trainee.lab_dir(lab), "attempts")))
    return 0


def reset(lab: Lab, trainee: Trainee) -> int:
    """Blank hosts again (up, nothing installed); `start` for the exercise's starting state."""
    for name in lab.hosts:
        print(hosts.labhost(trainee, "reset", name).stdout.strip())
    trainee.record(lab, state="reset")
    return 0


def run(lab: Lab, trainee: Trainee) -> int:
    if start(lab, trainee) or solve(lab, trainee):
        return 1
    return grade(lab, trainee)


def status(trainee: Trainee, out=sys.stdout) -> int:
    print(_("lab home {home}, slot {slot} (hosts on {network}.x)").format(
        home=trainee.home, slot=trainee.slot,
        network=trainee.address("127.0.0.0").rsplit(".", 1)[0]), file=out)
    for lab in all_labs():
        state = trainee.state(lab)
        score = ""
        if state.get("score"):
            score = _("score {score}, graded {age}").format(score=state["score"],
                                                         age=age(state.get("graded_at")))
        print(f"{lab.number:<5} {state_name(state['state']):<14} {score:<34} {lab.title_in()}",
              file=out)
    return 0


def state_name(state: str) -> str:
    """A lab's state as the trainee reads it."""
    return {"not started": _("not started"), "starting": _("starting"),
            "started": _("started"), "start failed": _("start failed"),
            "graded": _("graded"), "solved": _("solved"), "finished": _("finished"),
            "reset": _("reset")}.get(state, state)


def ssh(lab: Lab, trainee: Trainee, host: str | None, command: list[str]) -> int:
    name = host or next(iter(lab.hosts))
    if name not in lab.hosts:
        raise LabError(_("lab {number} has no host {host}; its hosts: {hosts}").format(
            number=lab.number, host=name, hosts=", ".join(lab.hosts)))
    if not hosts.host_is_up(lab, trainee, name):
        raise LabError(_("{host} is not up: run `glancelab lab start {number}`").format(
            host=name, number=lab.number))
    script = home().script("labhost")
    os.environ["GLANCELAB_LABHOSTS"] = trainee.hosts_dir
    os.execv(script, [script, "ssh", name, *command])
