"""Where the toolkit finds its content and keeps its state: one owner for that layout.

Content is the labs, the playbooks and roles they play, the scripts that start lab hosts
and services, and ansible.cfg. It is read from $GLANCELAB_HOME, else from the source
checkout this package runs from, else from the copy a wheel carries
(glancelab_toolkit/content, put there at build time by setup.py). State (runs, started
services, built wheels) goes to $GLANCELAB_STATE_DIR, else var/ in a checkout, else the
user's own state directory, so trainees sharing one installation never share state.
"""

from __future__ import annotations

import dataclasses
import os

# What a wheel carries, relative to the checkout's top.
CONTENT = ("labs", "playbooks", "roles", "inventory", "scripts", "ansible.cfg")

_PACKAGE = os.path.dirname(os.path.abspath(__file__))


@dataclasses.dataclass(frozen=True)
class Home:
    content: str
    state: str
    checkout: bool  # a source checkout: this very code can be built into wheels

    def __post_init__(self):
        if not os.path.isdir(os.path.join(self.content, "labs")):
            raise FileNotFoundError(f"no labs in {self.content}: set GLANCELAB_HOME to a "
                                    "glancelab checkout or reinstall the glancelab wheel")

    @property
    def labs(self) -> str:
        return os.path.join(self.content, "labs")

    @property
    def roles(self) -> str:
        return os.path.join(self.content, "roles")

    @property
    def ansible_cfg(self) -> str:
        return os.path.join(self.content, "ansible.cfg")

    def script(self, *parts: str) -> str:
        return os.path.join(self.content, "scripts", *parts)

    def content_path(self, relative: str) -> str:
        return os.path.join(self.content, relative)

    def state_path(self, *parts: str) -> str:
        return os.path.join(self.state, *parts)


def _checkout() -> str | None:
    top = os.path.dirname(os.path.dirname(_PACKAGE))  # <checkout>/api/glancelab_toolkit
    if os.path.exists(os.path.join(top, "pyproject.toml")) and \
            os.path.isdir(os.path.join(top, "labs")):
        return top
    return None


def _user_state() -> str:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"),
                                                            ".local", "state")
    return os.path.join(base, "glancelab")


def locate(environ=os.environ) -> Home:
    checkout = _checkout()
    if environ.get("GLANCELAB_HOME"):
        content = os.path.abspath(environ["GLANCELAB_HOME"])
    elif checkout:
        content = checkout
    else:
        content = os.path.join(_PACKAGE, "content")
    is_checkout = content == checkout
    state = environ.get("GLANCELAB_STATE_DIR") or (
        os.path.join(content, "var") if is_checkout else _user_state())
    return Home(content=content, state=os.path.abspath(state), checkout=is_checkout)
