"""The grader's side of the labs' checks (labs/conftest.py), run on checks written for the
test: every problem of one item is reported at once, each with its hint and fix; a `need`
ends its check; a failure after a noted problem is not the trainee's; `--step` keeps one
step's checks; titles and messages follow $GLANCELAB_LANG."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CHECKS = '''
import pytest
from conftest import check, expect, need
from glancelab_toolkit.i18n import _


@check(step=2, title=_("the new store directory belongs to glance, mode 0750"))
def test_two_problems_at_once():
    expect(False, "first problem", "fix one", hint="look here")
    expect(True, "never shown")
    expect(False, "second problem", "fix two")


@check(step=4, title="needs stop the check")
def test_need_stops():
    need(False, "cannot go on", "start over", hint="the host is blank")
    expect(False, "never reached")


def test_an_error_after_a_problem_is_not_reported():
    expect(False, "the real problem", "its fix", hint="its hint")
    {}["missing"]  # what the first problem leads to


def test_a_bug_of_the_grader_is_said_so():
    {}["missing"]


@check(step=7, title="passes")
def test_passes():
    expect(True, "fine")


def test_skipped():
    pytest.skip("not for this host")
'''


def grade(tmp_path, *args: str, lang: str = "en") -> list[dict]:
    checks = tmp_path / "labs"
    if not checks.exists():
        checks.mkdir()
        shutil.copy(os.path.join(ROOT, "labs", "conftest.py"), checks / "conftest.py")
        (checks / "test_checks.py").write_text(textwrap.dedent(CHECKS))
    report = tmp_path / "grade.json"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
                    "no:xdist", "--rootdir", str(checks), *args, str(checks)],
                   cwd=checks, capture_output=True, text=True, timeout=120,
                   env={**os.environ, "GLANCELAB_GRADE_REPORT": str(report),
                        "GLANCELAB_LANG": lang, "GLANCELAB_LAB": "2.1"})
    return json.loads(report.read_text())


def test_every_problem_of_an_item_at_once_with_hints_and_fixes(tmp_path):
    results = {row["check"]: row for row in grade(tmp_path)}
    two = results["the new store directory belongs to glance, mode 0750"]
    assert not two["passed"]
    assert two["problems"] == [
        {"problem": "first problem", "hint": "look here", "fix": "fix one"},
        {"problem": "second problem", "hint": "", "fix": "fix two"}]
    need = results["needs stop the check"]
    assert need["problems"] == [{"problem": "cannot go on", "hint": "the host is blank",
                                 "fix": "start over"}]
    after = results["an error after a problem is not reported"]
    assert [p["problem"] for p in after["problems"]] == ["the real problem"]
    bug = results["a bug of the grader is said so"]
    assert "the grader could not check this (KeyError" in bug["problems"][0]["problem"]
    assert results["passes"]["passed"] and results["passes"]["problems"] == []
    assert results["skipped"]["passed"] and results["skipped"]["problems"] == []


def test_one_step_and_the_trainees_language(tmp_path):
    only = grade(tmp_path, "--step", "2", lang="vi")
    assert [row["check"] for row in only] == ["thư mục kho mới thuộc về glance, quyền 0750"]
    bug = {row["check"]: row for row in grade(tmp_path, lang="vi")}[
        "a bug of the grader is said so"]
    assert bug["problems"][0]["problem"].startswith("trình chấm không kiểm tra được mục này")


def test_a_fail_shows_the_hint_and_keeps_the_fix_back(monkeypatch):
    """The fix appears with --show-fix, after FIX_AFTER failed grades in a row, or when the
    problem has no hint to give instead."""
    import io
    from glancelab_toolkit import i18n
    from glancelab_toolkit.labs import find
    from glancelab_toolkit.labs.grading import FIX_AFTER, Grade, Result, print_grade
    monkeypatch.setenv("GLANCELAB_LANG", "en")
    i18n.use("en")
    failed = Result("the directory", "l21", False, [
        {"problem": "mode 0700", "hint": "owner rwx, group r-x", "fix": "chmod 0750 /srv"},
        {"problem": "owner root", "hint": "", "fix": "chown glance /srv"}], 0.1)
    grade_ = Grade("2.1", [failed, Result("other", "l21", True, [], 0.1)], "now", "log")

    def shown(**kwargs) -> str:
        out = io.StringIO()
        print_grade(find("2.1"), grade_, "attempt.json", out=out, **kwargs)
        return out.getvalue()

    first = shown()
    assert "FAIL  l21: the directory" in first and "PASS  l21: other" in first
    assert "hint: owner rwx, group r-x" in first and "fix: chmod 0750 /srv" not in first
    assert "fix: chown glance /srv" in first  # no hint to give: the fix
    assert "glancelab lab grade 2.1 --show-fix" in first
    assert "fix: chmod 0750 /srv" in shown(show_fix=True)
    streak = {("the directory", "l21"): FIX_AFTER - 1}
    assert "fix: chmod 0750 /srv" not in shown(streaks=streak)
    streak = {("the directory", "l21"): FIX_AFTER}
    assert "fix: chmod 0750 /srv" in shown(streaks=streak)


def test_the_exam_clock():
    import datetime
    from glancelab_toolkit.labs.exam import seconds_left, time_left
    now = datetime.datetime(2026, 12, 6, 10, 0, tzinfo=datetime.timezone.utc)
    deadline = (now + datetime.timedelta(minutes=45)).isoformat()
    assert seconds_left({"state": "not started"}, now) is None
    assert seconds_left({"state": "started", "exam_deadline": deadline}, now) == 45 * 60
    later = now + datetime.timedelta(minutes=50)
    assert seconds_left({"state": "started", "exam_deadline": deadline}, later) == 0
    assert seconds_left({"state": "started", "exam_deadline": deadline, "handed_in": True},
                        now) == 0
    assert seconds_left({"state": "finished", "exam_deadline": deadline}, now) is None
    assert "44 min 30 s" in time_left(44 * 60 + 30) and "Time is up" in time_left(0)
