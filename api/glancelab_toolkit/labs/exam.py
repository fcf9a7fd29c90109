"""`glancelab lab exam`: a review lab that states only goals, against the clock.

The exam starts like a lab, but it shows its goals, not steps, and the time left. While
the time runs a grade says which goals are met and nothing more (no problems, hints or
fixes), and the written solution is refused; once handed in (`exam end`) or out of
time, the grade shows everything and the score is kept as an attempt.
"""

from __future__ import annotations

import datetime

from glancelab_toolkit.i18n import _, chosen
from glancelab_toolkit.labs import grading, hosts, preparing
from glancelab_toolkit.labs.spec import Lab, LabError, all_labs
from glancelab_toolkit.labs.trainee import Trainee, now_iso


def the_exam() -> Lab:
    for lab in all_labs():
        if lab.exam_minutes is not None:
            return lab
    raise LabError(_("this course has no review exam"))


def seconds_left(state: dict, now: datetime.datetime | None = None) -> float | None:
    """Seconds until the exam ends (0 once it has); None when no exam runs."""
    if "exam_deadline" not in state or state.get("state") in ("finished", "reset"):
        return None
    if state.get("handed_in"):
        return 0.0
    now = now or datetime.datetime.now(datetime.timezone.utc)
    deadline = datetime.datetime.fromisoformat(state["exam_deadline"])
    return max(0.0, (deadline - now).total_seconds())


def begin(trainee: Trainee, minutes: float | None = None) -> int:
    """Start the exam (or, when it runs, show its goals and the time left)."""
    lab = the_exam()
    left = seconds_left(trainee.state(lab))
    if left is None:
        if not preparing.prepare(lab, trainee):
            return 1
        limit = minutes if minutes is not None else lab.exam_minutes
        now = datetime.datetime.now(datetime.timezone.utc)
        trainee.record(lab, exam_started_at=now.isoformat(), handed_in=False,
                       exam_deadline=(now + datetime.timedelta(minutes=limit)).isoformat())
        left = limit * 60
    show_goals(lab, trainee, left)
    return 0


def show_goals(lab: Lab, trainee: Trainee, left: float) -> None:
    where = ", ".join(_("{host} at {address}").format(host=name, address=address)
                      for name, address in trainee.hosts(lab).items())
    print("\n" + _("Lab {number} — {title}").format(number=lab.number, title=lab.title_in()))
    print(_("The goals, on {where}:").format(where=where))
    goals = (lab.goals or {}).get(chosen()) or (lab.goals or {}).get("en", [])
    for number, goal in enumerate(goals, 1):
        print(f"  {number}. {goal}")
    print(time_left(left))
    print(_("`glancelab lab ssh {number}` for a shell there; `glancelab lab exam grade` says "
            "which goals are met; `glancelab lab exam end` hands in.").format(
                number=lab.number))


def time_left(left: float) -> str:
    if left <= 0:
        return _("Time is up: `glancelab lab exam grade` gives your score.")
    return _("Time left: {minutes} min {seconds} s.").format(minutes=int(left // 60),
                                                           seconds=int(left % 60))


def grade(lab: Lab, trainee: Trainee) -> int:
    """While the time runs: met or not, per goal. After: the whole grade, kept."""
    left = seconds_left(trainee.state(lab))
    if left is None:
        raise LabError(_("no exam is running: `glancelab lab exam` starts it"))
    inventory = hosts.saved_inventory(lab, trainee)
    result = grading.grade(lab, trainee, inventory, trainee.new_run_dir(lab, "grade"))
    if left > 0:
        print("\n" + _("Lab {number} — {title}").format(number=lab.number,
                                                       title=lab.title_in()))
        met, not_met = _("met"), _("not met")
        for row in result.results:
            print(f"  {met if row.passed else not_met:<12}{row.check}")
        print(time_left(left))
        print(_("Problems, hints and fixes come once you hand in: `glancelab lab exam end`."))
        return 0 if result.all_passed else 1
    attempt = grading.save_attempt(result, lab, trainee)
    grading.print_grade(lab, result, attempt, show_fix=True)
    trainee.record(lab, state="graded", score=result.score, graded_at=result.graded_at)
    return 0 if result.all_passed else 1


def end(trainee: Trainee) -> int:
    """Hand in: the time stops, and the grade shows everything."""
    lab = the_exam()
    if seconds_left(trainee.state(lab)) is None:
        raise LabError(_("no exam is running: `glancelab lab exam` starts it"))
    trainee.record(lab, handed_in=True, handed_in_at=now_iso())
    return grade(lab, trainee)


def refuse_while_running(lab: Lab, trainee: Trainee) -> None:
    left = seconds_left(trainee.state(lab))
    if left:
        raise LabError(_("the exam is running: its solution comes after you hand in "
                         "(`glancelab lab exam end`)"))
