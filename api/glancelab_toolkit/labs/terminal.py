"""A lab's guide on a terminal: its Markdown rendered (headings, lists, code) by rich;
piped or redirected, the Markdown itself, so that commands copy exactly."""

from __future__ import annotations

import sys


def show_guide(markdown: str, out=None, raw: bool = False) -> None:
    out = out or sys.stdout
    if raw or not out.isatty():
        print(markdown, file=out)
        return
    from rich.console import Console
    from rich.markdown import Markdown
    # code blocks keep their lines: a command broken in two would not paste
    Console(file=out).print(Markdown(markdown, code_theme="ansi_dark"), soft_wrap=False)
