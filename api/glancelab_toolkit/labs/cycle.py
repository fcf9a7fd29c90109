"""A lab's cycle for one trainee: start, (work by hand), grade, solve, finish.

`run` is start + solve + grade, for CI and for operators who want the lab done.
"""

from __future__ import annotations

import os
import sys

from glancelab_toolkit.labs import grading, hosts
from glancelab_toolkit.labs.playbook import play
from glancelab_toolkit.labs.spec import Lab, LabError, all_labs, home
from glancelab_toolkit.labs.trainee import Trainee, age, now_iso


def start(lab: Lab, trainee: Trainee) -> int:
    """Fresh hosts brought to the exercise's starting state, then what to do next."""
    trainee.record(lab, state="starting", started_at=now_iso())
    services = hosts.start_services(lab, trainee)
    hosts.start_hosts(lab, trainee, fresh=True)
    inventory = hosts.write_inventory(lab, trainee, {
        "glancelab_api_wheelhouse": hosts.wheelhouse(), **services})
    run_dir = trainee.new_run_dir(lab, "start")
    print(f"Lab {lab.number}: {lab.title['en']} — preparing the starting state", flush=True)
    ok, _ = play(lab.start, run_dir, inventory, trainee)
    if not ok:
        trainee.record(lab, state="start failed")
        print(f"\nPreparing the lab failed; the failing task is above, its full output in "
              f"{run_dir}. `glancelab lab doctor` checks this machine; then start again.")
        return 1
    trainee.record(lab, state="started")
    where = ", ".join(f"{name} at {address}" for name, address in trainee.hosts(lab).items())
    first = next(iter(lab.hosts))
    print(f"\nLab {lab.number} is ready: {where}.\n"
          f"  the steps:   glancelab lab guide {lab.number}   (--lang vi: tiếng Việt)\n"
          f"  the host:    glancelab lab ssh {lab.number}{'' if len(lab.hosts) == 1 else ' ' + first}"
          f"   (admin-openrc is in root's home)\n"
          f"  your score:  glancelab lab grade {lab.number}\n"
          f"  the answer:  glancelab lab solve {lab.number}   (plays the solution)\n"
          f"  clean up:    glancelab lab finish {lab.number}")
    return 0


def grade(lab: Lab, trainee: Trainee) -> int:
    inventory = hosts.saved_inventory(lab, trainee)
    print(f"Grading lab {lab.number} on {', '.join(trainee.hosts(lab))}...", flush=True)
    result = grading.grade(lab, trainee, inventory, trainee.new_run_dir(lab, "grade"))
    attempt = grading.save_attempt(result, lab, trainee)
    grading.print_grade(lab, result, attempt)
    trainee.record(lab, state="graded", score=result.score, graded_at=result.graded_at)
    if not result.all_passed:
        print(f"Fix what is listed and grade again; `glancelab lab solve {lab.number}` shows "
              "the answer.")
    return 0 if result.all_passed else 1


def solve(lab: Lab, trainee: Trainee) -> int:
    inventory = hosts.saved_inventory(lab, trainee)
    run_dir = trainee.new_run_dir(lab, "solve")
    print(f"Lab {lab.number}: playing the solution ({lab.solution})", flush=True)
    ok, seconds = play(lab.solution, run_dir, inventory, trainee)
    if not ok:
        print(f"\nThe solution failed on what the host has now; the failing task is above, "
              f"its output in {run_dir}. `glancelab lab start {lab.number}` starts over.")
        return 1
    trainee.record(lab, state="solved", solved_at=now_iso())
    print(f"solution played in {seconds:.1f}s; `glancelab lab grade {lab.number}` checks it")
    return 0


def finish(lab: Lab, trainee: Trainee) -> int:
    """The lab's hosts and services gone; its attempts are kept."""
    hosts.destroy_hosts(lab, trainee)
    hosts.stop_services(lab, trainee)
    if os.path.exists(trainee.inventory(lab)):
        os.unlink(trainee.inventory(lab))
    trainee.record(lab, state="finished", finished_at=now_iso())
    print(f"lab {lab.number} finished; its attempts stay in "
          f"{os.path.join(trainee.lab_dir(lab), 'attempts')}")
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
    print(f"lab home {trainee.home}, slot {trainee.slot} "
          f"(hosts on {trainee.address('127.0.0.0').rsplit('.', 1)[0]}.x)", file=out)
    for lab in all_labs():
        state = trainee.state(lab)
        score = ""
        if state.get("score"):
            score = f"score {state['score']}, graded {age(state.get('graded_at'))}"
        print(f"{lab.number:<5} {state['state']:<12} {score:<30} {lab.title['en']}", file=out)
    return 0


def ssh(lab: Lab, trainee: Trainee, host: str | None, command: list[str]) -> int:
    name = host or next(iter(lab.hosts))
    if name not in lab.hosts:
        raise LabError(f"lab {lab.number} has no host {name}; its hosts: {', '.join(lab.hosts)}")
    if not hosts.host_is_up(lab, trainee, name):
        raise LabError(f"{name} is not up: run `glancelab lab start {lab.number}`")
    script = home().script("labhost")
    os.environ["GLANCELAB_LABHOSTS"] = trainee.hosts_dir
    os.execv(script, [script, "ssh", name, *command])
