"""Grading: the lab's checks run on its hosts, each result a PASS or a FAIL with its fix.

The checks are testinfra tests (labs/NN-name/checks). labs/conftest.py turns every
failure into a problem and a fix and writes them to a JSON report; nothing here parses a
traceback, and a trainee never sees one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

from glancelab_toolkit.labs.spec import Lab, LabError, home
from glancelab_toolkit.labs.trainee import Trainee, now_iso


@dataclasses.dataclass
class Result:
    check: str
    host: str
    passed: bool
    problem: str
    fix: str
    seconds: float


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


def grade(lab: Lab, trainee: Trainee, inventory: str, run_dir: str) -> Grade:
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
                           lab.checks], cwd=home().labs, env=env, capture_output=True, text=True)
    with open(log, "w") as handle:
        handle.write(done.stdout + done.stderr)
    try:
        with open(report) as handle:
            rows = json.load(handle)
    except (OSError, ValueError):
        raise LabError(f"the checks of lab {lab.number} could not run; what pytest said is in "
                       f"{log}") from None
    results = [Result(**row) for row in rows]
    if not results:
        raise LabError(f"lab {lab.number} has no checks that ran; see {log}")
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


def print_grade(lab: Lab, grade_: Grade, attempt: str, out=sys.stdout) -> None:
    print(f"\nLab {lab.number} — {lab.title['en']}", file=out)
    for result in grade_.results:
        where = f"{result.host}: " if result.host else ""
        print(f"  {'PASS' if result.passed else 'FAIL'}  {where}{result.check}", file=out)
        if not result.passed:
            print(f"        {result.problem}", file=out)
            if result.fix:
                print(f"        fix: {result.fix}", file=out)
    print(f"Score: {grade_.score}   (this attempt: {attempt})", file=out)
