"""What a lab is: its lab.yml, its guides and its checks."""

from __future__ import annotations

import dataclasses
import os
import re

import yaml

from glancelab_toolkit.home import Home, locate
from glancelab_toolkit.i18n import _, chosen


class LabError(Exception):
    """A problem the trainee can fix; the message says how."""


_home: Home | None = None


def home() -> Home:
    """Located on first use, so that importing this module never fails."""
    global _home
    if _home is None:
        try:
            _home = locate()
        except FileNotFoundError as exc:
            raise LabError(str(exc)) from None
    return _home


@dataclasses.dataclass
class Lab:
    number: str
    slug: str
    path: str
    title: dict
    hosts: dict          # name -> the address lab.yml gives (a trainee's block may move it)
    start: str           # playbook: the exercise's starting state
    solution: str        # playbook: the exercise done
    variables: dict
    services: list
    exam_minutes: float | None = None  # a review exam: its time limit
    goals: dict | None = None          # a review exam: {"en": [...], "vi": [...]}

    @classmethod
    def load(cls, path: str) -> "Lab":
        with open(os.path.join(path, "lab.yml")) as handle:
            spec = yaml.safe_load(handle)
        return cls(number=str(spec["number"]), slug=os.path.basename(path), path=path,
                   title=spec["title"], hosts=spec["hosts"], start=spec["start"],
                   solution=spec["solution"], variables=spec.get("vars", {}),
                   services=spec.get("services", []), exam_minutes=spec.get("exam_minutes"),
                   goals=spec.get("goals"))

    def title_in(self, lang: str | None = None) -> str:
        """The title in the trainee's language (lab.yml holds both)."""
        return self.title.get(chosen(lang)) or self.title["en"]

    @property
    def checks(self) -> str:
        return os.path.join(self.path, "checks")

    def checked_steps(self) -> list[str]:
        """The guide's steps that have checks of their own (`@check(step=N, ...)`)."""
        found: set[int] = set()
        for name in sorted(os.listdir(self.checks)):
            if name.endswith(".py"):
                with open(os.path.join(self.checks, name)) as handle:
                    found.update(int(n) for n in re.findall(r"@check\(step=(\d+)", handle.read()))
        return [str(n) for n in sorted(found)]

    def guide(self, lang: str | None = None) -> str:
        path = os.path.join(self.path, f"guide.{chosen(lang)}.md")
        if not os.path.exists(path):
            raise LabError(_("lab {number} has no guide in '{lang}'; use en or vi").format(
                number=self.number, lang=chosen(lang)))
        with open(path) as handle:
            return handle.read()


def all_labs() -> list[Lab]:
    labs_dir = home().labs
    return [Lab.load(os.path.join(labs_dir, name)) for name in sorted(os.listdir(labs_dir))
            if os.path.exists(os.path.join(labs_dir, name, "lab.yml"))]


def find(number: str) -> Lab:
    for lab in all_labs():
        if number in (lab.number, lab.slug, lab.slug.split("-", 1)[0]):
            return lab
    raise LabError(_("no lab {number}; `glancelab lab list` shows them").format(number=number))
