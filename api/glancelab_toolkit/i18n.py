"""The lab tooling's messages in the trainee's language.

Messages are written in English in the code, marked `_("...")` with named placeholders
filled after translation (`_("Lab {number} is ready").format(number=...)`), and their
Vietnamese lives in the gettext catalogue `locale/vi/LC_MESSAGES/glancelab.po` (Babel
extracts and updates it: `make messages`). Babel compiles the catalogue in memory the
first time a message is asked for, so the source catalogue is all the package carries.

The language: `--lang`, else $GLANCELAB_LANG, else the locale ($LC_ALL, $LC_MESSAGES,
$LANG), else English. It is put in $GLANCELAB_LANG, so the grader's checks (another
process) speak the same language.
"""

from __future__ import annotations

import functools
import gettext
import io
import os

LANGUAGES = ("en", "vi")
DOMAIN = "glancelab"
LOCALE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "locale")


def chosen(lang: str | None = None) -> str:
    """The language to speak: the one asked for, else the environment's."""
    if lang in LANGUAGES:
        return lang
    for variable in ("GLANCELAB_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable, "")
        if value:
            code = value.split("_", 1)[0].split(".", 1)[0].lower()
            return code if code in LANGUAGES else "en"
    return "en"


def use(lang: str | None = None) -> str:
    """Speak `lang` (or the environment's language) from now on, here and in the
    processes started from here."""
    language = chosen(lang)
    os.environ["GLANCELAB_LANG"] = language
    return language


@functools.lru_cache(maxsize=None)
def catalogue(language: str) -> gettext.NullTranslations:
    if language == "en":
        return gettext.NullTranslations()
    path = os.path.join(LOCALE_DIR, language, "LC_MESSAGES", f"{DOMAIN}.po")
    try:
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po
    except ImportError:  # the labs extra is not installed: English rather than nothing
        return gettext.NullTranslations()
    with open(path, "rb") as source:
        messages = read_po(source, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, messages)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def _(message: str) -> str:
    """`message` in the current language."""
    return catalogue(chosen()).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    return catalogue(chosen()).ngettext(singular, plural, count)


def extract_ansible_names(fileobj, keywords, comment_tags, options):
    """Babel extractor: the names of the plays and tasks of a playbook or a role's task
    file, which the lab tooling's progress shows (`make messages` reads them through
    babel.cfg). A name with a Jinja expression is rendered by Ansible first: left out."""
    import yaml
    try:
        document = yaml.safe_load(fileobj)
    except yaml.YAMLError:
        return
    pending = [document]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(reversed(node))
        elif isinstance(node, dict):
            name = node.get("name")
            if isinstance(name, str) and "{{" not in name and len(node) > 1:
                yield 0, "_", name, []
            for key in ("tasks", "block", "rescue", "always", "handlers", "pre_tasks",
                        "post_tasks"):
                pending.append(node.get(key))
