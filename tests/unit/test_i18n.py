"""The lab tooling speaks English and Vietnamese: every message the code marks has its
Vietnamese, with the same placeholders, and the commands choose the language from --lang,
$GLANCELAB_LANG or the locale."""

from __future__ import annotations

import os
import string
import subprocess
import sys

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from glancelab_toolkit import i18n

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CATALOGUE = os.path.join(ROOT, "api", "glancelab_toolkit", "locale", "vi", "LC_MESSAGES",
                         "glancelab.po")
GLANCELAB = os.path.join(os.path.dirname(sys.executable), "glancelab")


def marked_messages() -> set[str]:
    with open(os.path.join(ROOT, "babel.cfg")) as config:
        method_map, options_map = parse_mapping_cfg(config)
    return {message for _file, _line, message, _comments, _context in
            extract_from_dir(ROOT, method_map, options_map, keywords={"_": None})}


def placeholders(text: str) -> set[str]:
    return {field for _literal, field, _spec, _conversion in string.Formatter().parse(text)
            if field is not None}


def test_every_marked_message_has_its_vietnamese_with_the_same_placeholders():
    with open(CATALOGUE, "rb") as source:
        catalogue = {m.id: m.string for m in read_po(source) if m.id}
    marked = marked_messages()
    assert len(marked) > 100  # the extraction found the code's messages at all
    untranslated = sorted(m for m in marked if not catalogue.get(m))
    assert not untranslated, f"run `make messages` and translate: {untranslated}"
    left_over = sorted(set(catalogue) - marked)
    assert not left_over, f"no longer in the code (run `make messages`): {left_over}"
    for message in marked:
        assert placeholders(catalogue[message]) == placeholders(message), message


def test_the_language_comes_from_lang_then_the_environment(monkeypatch):
    for variable in ("GLANCELAB_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(variable, raising=False)
    assert i18n.chosen() == "en"
    monkeypatch.setenv("LANG", "vi_VN.UTF-8")
    assert i18n.chosen() == "vi"
    monkeypatch.setenv("LC_ALL", "C.UTF-8")  # LC_ALL wins over LANG, as for gettext
    assert i18n.chosen() == "en"
    monkeypatch.setenv("GLANCELAB_LANG", "vi")
    assert i18n.chosen() == "vi"
    assert i18n.chosen("en") == "en"
    assert i18n.use("vi") == "vi" and os.environ["GLANCELAB_LANG"] == "vi"
    assert i18n._("PASS") == "ĐẠT"
    assert i18n._("Score: {score}   (this attempt: {attempt})").format(
        score="4/4", attempt="x") == "Điểm: 4/4   (lần làm này: x)"
    i18n.use("en")
    assert i18n._("PASS") == "PASS"


@pytest.fixture
def lab_env(tmp_path):
    return {**os.environ, "GLANCELAB_LAB_HOME": str(tmp_path / "home"),
            "GLANCELAB_LAB_SLOTS": str(tmp_path / "slots"), "LANG": "C.UTF-8",
            "GLANCELAB_LANG": ""}


def run(env, *args, **kwargs):
    return subprocess.run([GLANCELAB, "lab", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, **kwargs)


def test_lab_commands_in_vietnamese(lab_env):
    listed = run(lab_env, "list", "--lang", "vi")
    assert listed.returncode == 0, listed.stderr
    assert "Chuyển kho ảnh sang đường dẫn mới" in listed.stdout
    assert "Move the image store" not in listed.stdout
    status = run({**lab_env, "GLANCELAB_LANG": "vi"}, "status")
    assert status.returncode == 0 and "thư mục lab" in status.stdout
    assert "chưa bắt đầu" in status.stdout and "not started" not in status.stdout
    english = run(lab_env, "status")
    assert "not started" in english.stdout and "chưa bắt đầu" not in english.stdout
    unknown = run(lab_env, "grade", "9.9", "--lang", "vi")
    assert unknown.returncode == 2 and "không có bài 9.9" in unknown.stderr
    not_started = run(lab_env, "grade", "2.1", "--lang", "vi")
    assert not_started.returncode == 2
    assert "bài 2.1 chưa bắt đầu: chạy `glancelab lab start 2.1`" in not_started.stderr


def test_a_closed_pipe_ends_a_listing_quietly(lab_env):
    """`glancelab lab status | head -1`: the reader is gone before the listing ends."""
    reader, writer = os.pipe()
    os.close(reader)  # every write meets a closed pipe, as after head's exit
    try:
        piped = subprocess.run([GLANCELAB, "lab", "status"], cwd=ROOT, env=lab_env,
                               stdout=writer, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(writer)
    assert piped.returncode == 0 and piped.stderr == "", piped.stderr


def test_a_guide_is_rendered_on_a_terminal_and_markdown_when_piped(lab_env):
    import pty
    piped = run(lab_env, "guide", "2.1", "--lang", "vi")
    assert piped.stdout.startswith("# Bài 2.1")  # the Markdown itself: commands copy exactly
    controller, terminal = pty.openpty()
    try:
        shown = subprocess.run([GLANCELAB, "lab", "guide", "2.1"], cwd=ROOT, timeout=60,
                               env={**lab_env, "COLUMNS": "200", "TERM": "xterm"},
                               stdout=terminal, stderr=subprocess.PIPE)
        os.close(terminal)
        rendered = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal's other end is closed: all is read
                break
            if not chunk:
                break
            rendered += chunk
    finally:
        os.close(controller)
    text = rendered.decode()
    assert shown.returncode == 0, shown.stderr
    assert "\x1b[" in text and "Lab 2.1 — Move the image store" in text
    assert "# Lab 2.1" not in text and "```" not in text
    # a command of the guide stays on one line
    assert "mkdir -p /srv/glance/images && chown glance:glance /srv/glance/images" in text


def test_progress_names_plays_and_tasks_in_the_trainees_language(monkeypatch):
    """The names of the roles' tasks are in the catalogue (babel.cfg's ansible extractor)."""
    import io
    from glancelab_toolkit.labs.playbook import Progress
    monkeypatch.setenv("GLANCELAB_LANG", "vi")
    out = io.StringIO()
    progress = Progress(out)
    progress({"event": "playbook_on_play_start", "event_data": {"play": "The API as installed"}})
    progress({"event": "runner_on_ok", "event_data": {
        "host": "l21", "task": "Install glancelab in its virtualenv", "res": {"changed": True}}})
    progress({"event": "runner_on_ok", "event_data": {
        "host": "l21", "task": "Write 50-cache.conf", "res": {}}})  # rendered: as it is
    shown = out.getvalue()
    assert "API như vừa cài đặt" in shown
    assert "đã đổi" in shown and "Cài glancelab vào virtualenv của nó" in shown
    assert "ổn" in shown and "Write 50-cache.conf" in shown
