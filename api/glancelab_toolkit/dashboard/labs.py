"""The labs pages: this machine's trainee's labs (state, scores over time, a lab's guide,
its last grade with hints, and start, grade and finish with live progress), and a
trainer's class scoreboard over several lab homes."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import threading

import falcon

from glancelab_toolkit.dashboard.web import Page, language
from glancelab_toolkit.labs import grading, spec
from glancelab_toolkit.labs.trainee import Trainee, default_home

ACTIONS = ("start", "grade", "finish")
OUTPUT_TAIL = 20000


class Runs:
    """The lab commands this dashboard started: one at a time a lab, output to a file."""

    def __init__(self):
        self._running: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()

    def log_path(self, home: str, number: str) -> str:
        return os.path.join(home, "dashboard", f"{number}.log")

    def start(self, home: str, number: str, action: str, lang: str) -> bool:
        with self._lock:
            running = self._running.get(number)
            if running is not None and running.poll() is None:
                return False
            path = self.log_path(home, number)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as log:
                log.write(f"$ glancelab lab {action} {number}\n")
                log.flush()
                self._running[number] = subprocess.Popen(
                    [os.path.join(os.path.dirname(sys.executable), "glancelab"), "lab", action,
                     number, "--lang", lang], stdout=log, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, env={**os.environ, "GLANCELAB_LAB_HOME": home},
                    start_new_session=True)
            return True

    def progress(self, home: str, number: str) -> dict:
        with self._lock:
            running = self._running.get(number)
            code = None if running is None else running.poll()
        try:
            with open(self.log_path(home, number), errors="replace") as handle:
                output = handle.read()[-OUTPUT_TAIL:]
        except OSError:
            output = ""
        return {"running": running is not None and code is None, "exit_code": code,
                "output": output}


RUNS = Runs()


class Labs(Page):
    def on_get(self, req, resp):
        session = self.signed_in(req)
        home, lang = default_home(), language(req)
        trainee = Trainee(home=home, slot=0)  # only read: no slot claimed
        rows = []
        for lab in spec.all_labs():
            graded = grading.saved_attempts(lab, trainee)
            rows.append({"number": lab.number, "title": lab.title_in(lang),
                         "state": trainee.state(lab)["state"],
                         "scores": [a.get("score") for a in graded][-10:],
                         "last": graded[-1]["score"] if graded else None})
        self.dashboard.render(req, resp, "labs.html", session, labs=rows, home=home)


class LabPage(Page):
    def on_get(self, req, resp, number: str):
        session = self.signed_in(req)
        lab = _lab(number)
        home, lang = default_home(), language(req)
        if req.get_param("progress"):
            resp.set_header("Cache-Control", "no-store")
            resp.media = RUNS.progress(home, lab.number)
            return
        from markdown_it import MarkdownIt
        guide = MarkdownIt("commonmark", {"html": False}).render(lab.guide(lang))
        trainee = Trainee(home=home, slot=0)  # only read: no slot claimed
        graded = grading.saved_attempts(lab, trainee)
        last = graded[-1] if graded else None
        streaks = grading.streaks_in(graded)
        items = []
        for row in (last or {}).get("results", []):
            shown = streaks.get((row.get("check", ""), row.get("host", "")), 0) >= \
                grading.FIX_AFTER
            items.append({**row, "fix_shown": shown})
        self.dashboard.render(req, resp, "lab.html", session, lab=lab,
                              title=lab.title_in(lang), guide=guide, last=last, items=items,
                              state=trainee.state(lab)["state"],
                              actions=ACTIONS if self.dashboard.lab_actions else (),
                              progress=RUNS.progress(home, lab.number))

    def on_post(self, req, resp, number: str):
        _session, form = self.posted(req)
        lab = _lab(number)
        action = form.get("action", "")
        if action not in ACTIONS or not self.dashboard.lab_actions:
            raise falcon.HTTPBadRequest(description="start, grade or finish")
        if not RUNS.start(default_home(), lab.number, action, language(req)):
            raise falcon.HTTPConflict(description=f"lab {lab.number} is busy")
        raise falcon.HTTPSeeOther(f"/labs/{lab.number}")


class Class(Page):
    """A trainer's scoreboard: each directory under --lab-homes is a trainee's lab home."""

    def on_get(self, req, resp):
        session = self.signed_in(req)
        if not session.is_admin:
            raise falcon.HTTPForbidden(description="the class scoreboard is for trainers")
        labs = spec.all_labs()
        trainees = []
        base = self.dashboard.lab_homes
        for name in sorted(os.listdir(base)) if base and os.path.isdir(base) else []:
            home = os.path.join(base, name)
            if not os.path.isdir(home):
                continue
            trainee = Trainee(home=home, slot=0)
            cells = {}
            for lab in labs:
                graded = grading.saved_attempts(lab, trainee)
                if not graded:
                    continue
                best = max(graded, key=lambda a: (a.get("passed", 0), a.get("graded_at", "")))
                started = trainee.state(lab).get("started_at")
                cells[lab.number] = {"best": best.get("score"), "attempts": len(graded),
                                     "minutes": _minutes(started, graded[-1].get("graded_at"))}
            trainees.append({"name": name, "cells": cells})
        self.dashboard.render(req, resp, "class.html", session, labs=labs,
                              trainees=trainees, base=base)


def _lab(number: str) -> spec.Lab:
    try:
        return spec.find(number)
    except spec.LabError:
        raise falcon.HTTPNotFound() from None


def _minutes(started: str | None, ended: str | None) -> int | None:
    try:
        first = datetime.datetime.fromisoformat(started.replace("Z", "+00:00"))
        last = datetime.datetime.fromisoformat(ended.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None
    return max(0, round((last - first).total_seconds() / 60))
