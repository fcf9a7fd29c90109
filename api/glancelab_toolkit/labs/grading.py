"""Grading: the lab's checks run on its hosts, each result a PASS or a FAIL with its
problems, each with a hint where to look and a fix.

The checks are testinfra tests (labs/NN-name/checks). labs/conftest.py turns every
failure into problems and writes them to a JSON report; nothing here parses a traceback,
and a trainee never sees one. A FAIL shows what is wrong and the hint; the exact fix only
when asked (`--show-fix`) or once the same item has failed FIX_AFTER grades in a row, so
that the trainee does the thinking first. A problem without a hint shows its fix.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

from glancelab_toolkit.i18n import _
from glancelab_toolkit.labs.spec import Lab, LabError, home
from glancelab_toolkit.labs.trainee import Trainee, now_iso


FIX_AFTER = 3


@dataclasses.dataclass
class Result:
    check: str
    host: str
    passed: bool
    problems: list[dict]  # {"problem", "hint", "fix"}
    seconds: float

    @property
    def key(self) -> tuple[str, str]:
        return self.check, self.host


@dataclasses.dataclass
class Grade:
    lab: str
    results: list[Result]
    graded_at: str
    log: str

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.passed)

    @property
    def score(self) -> str:
        return f"{self.passed}/{len(self.results)}"

    @property
    def all_passed(self) -> bool:
        return bool(self.results) and self.passed == len(self.results)


def grade(lab: Lab, trainee: Trainee, inventory: str, run_dir: str,
          step: str | None = None) -> Grade:
    report = os.path.join(run_dir, "grade.json")
    log = os.path.join(run_dir, "checks.log")
    env = {**os.environ, "PY_COLORS": "0",
           "PATH": f"{os.path.dirname(sys.executable)}:{os.environ.get('PATH', '')}",
           "GLANCELAB_LAB": lab.number, "GLANCELAB_GRADE_REPORT": report,
           "GLANCELAB_GRADE_LOG": log,
           "ANSIBLE_SSH_CONTROL_PATH_DIR": trainee.ssh_control_dir}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "no:xdist", "--rootdir", home().labs,
                           f"--hosts=ansible://glance_api?ansible_inventory={inventory}",
                           f"--ssh-config={trainee.ssh_config}",
                           *(["--step", step] if step is not None else []),
                           lab.checks], cwd=home().labs, env=env, capture_output=True, text=True)
    with open(log, "w") as handle:
        handle.write(done.stdout + done.stderr)
    try:
        with open(report) as handle:
            rows = json.load(handle)
    except (OSError, ValueError):
        raise LabError(_("the checks of lab {number} could not run; what pytest said is in "
                         "{log}").format(number=lab.number, log=log)) from None
    results = [Result(**row) for row in rows]
    if not results and step is not None:
        raise LabError(_("lab {number} has no checks for step {step}; the guide's steps with "
                         "checks: {steps}").format(number=lab.number, step=step,
                                                   steps=", ".join(lab.checked_steps())))
    if not results:
        raise LabError(_("lab {number} has no checks that ran; see {log}").format(
            number=lab.number, log=log))
    return Grade(lab=lab.number, results=results, graded_at=now_iso(), log=log)


def save_attempt(grade_: Grade, lab: Lab, trainee: Trainee) -> str:
    path = trainee.attempt_path(lab)
    with open(path, "w") as handle:
        json.dump({"lab": lab.number, "title": lab.title["en"], "graded_at": grade_.graded_at,
                   "trainee": os.environ.get("USER") or str(os.getuid()),
                   "lab_home": trainee.home, "score": grade_.score,
                   "passed": grade_.passed, "total": len(grade_.results),
                   "results": [dataclasses.asdict(r) for r in grade_.results]}, handle, indent=2)
    return path


def saved_attempts(lab: Lab, trainee: Trainee) -> list[dict]:
    """The lab's saved grades, oldest first (unreadable files left out)."""
    attempts = os.path.join(trainee.lab_dir(lab), "attempts")
    try:
        names = sorted(os.listdir(attempts))
    except OSError:
        return []
    found = []
    for name in names:
        try:
            with open(os.path.join(attempts, name)) as handle:
                found.append(json.load(handle))
        except (OSError, ValueError):
            continue
    return found


def failing_streaks(lab: Lab, trainee: Trainee) -> dict[tuple[str, str], int]:
    """For each item, how many of the latest saved grades in a row it failed."""
    return streaks_in(saved_attempts(lab, trainee))


def streaks_in(attempts: list[dict]) -> dict[tuple[str, str], int]:
    """failing_streaks of grades already read (oldest first)."""
    streaks: dict[tuple[str, str], int] = {}
    ended: set[tuple[str, str]] = set()
    for attempt in reversed(attempts):
        for row in attempt.get("results", []):
            key = (row.get("check", ""), row.get("host", ""))
            if key in ended:
                continue
            if row.get("passed"):
                ended.add(key)
            else:
                streaks[key] = streaks.get(key, 0) + 1
    return streaks


def print_grade(lab: Lab, grade_: Grade, attempt: str | None, show_fix: bool = False,
                streaks: dict[tuple[str, str], int] | None = None, out=sys.stdout) -> None:
    """The grade; `streaks` (with this grade saved) decides which fixes are shown."""
    streaks = streaks or {}
    print("\n" + _("Lab {number} — {title}").format(number=lab.number, title=lab.title_in()),
          file=out)
    hidden = 0
    passed, failed, hint, fix = _("PASS"), _("FAIL"), _("hint:"), _("fix:")
    for result in grade_.results:
        where = f"{result.host}: " if result.host else ""
        print(f"  {passed if result.passed else failed}  {where}{result.check}", file=out)
        if result.passed:
            continue
        shows_fix = show_fix or streaks.get(result.key, 0) >= FIX_AFTER
        for problem in result.problems:
            print(f"        {problem['problem']}", file=out)
            if problem.get("hint"):
                print(f"        {hint} {problem['hint']}", file=out)
            if problem.get("fix") and (shows_fix or not problem.get("hint")):
                print(f"        {fix} {problem['fix']}", file=out)
            elif problem.get("fix"):
                hidden += 1
    if attempt is not None:
        print(_("Score: {score}   (this attempt: {attempt})").format(
            score=grade_.score, attempt=attempt), file=out)
    if hidden:
        print(_("Fixes are kept back so that you find them: `glancelab lab grade {number} "
                "--show-fix` shows them (an item that fails {times} grades in a row shows its "
                "own).").format(number=lab.number, times=FIX_AFTER), file=out)
