"""The fields of a suggested opportunity: their limits, labels, checks, and how they read.

Shared by the person who suggests and the moderator who edits, so both meet the same rules.
Everything here is a pure function of the translator and the values.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.i18n import Translator
from storage.submissions import FIELDS

MAX_LENGTHS: dict[str, int] = {
    "title": 120,
    "what": 1000,
    "place": 200,
    "timing": 200,
    "contact": 200,
}
ICONS: dict[str, str] = {"title": "📌", "what": "📝", "place": "📍", "timing": "🕒", "contact": "☎️"}


def field_label(t: Translator, field: str) -> str:
    """A field's short name, for buttons."""
    labels = {
        "title": t._("Title"),
        "what": t._("What happens"),
        "place": t._("Where"),
        "timing": t._("When"),
        "contact": t._("Contact"),
    }
    return labels[field]


def field_question(t: Translator, field: str) -> str:
    """The question that asks for a field, with an example."""
    questions = {
        "title": t._(
            "What is it called? One short line, for example: Food bank at the parish hall."
        ),
        "what": t._(
            "What happens there, and what could volunteers do? A few sentences are enough."
        ),
        "place": t._("Where is it? An address, or a place people know."),
        "timing": t._(
            "When does it happen? For example: every Saturday morning, or 12 May from 10:00."
        ),
        "contact": t._(
            "How can people get in touch? A phone number, an e-mail, a website or a Telegram @name."
        ),
    }
    return f"{ICONS[field]} {questions[field]}"


def tidy(field: str, text: str) -> str:
    """The typed text as it is kept: one line for short fields, paragraphs kept in 'what'."""
    if field == "what":
        lines = [" ".join(line.split()) for line in text.strip().splitlines()]
        paragraphs: list[str] = []
        for line in lines:
            if line or (paragraphs and paragraphs[-1]):
                paragraphs.append(line)
        return "\n".join(paragraphs).strip()
    return " ".join(text.split())


def problem(t: Translator, field: str, value: str) -> str | None:
    """What is wrong with a tidied value, in the reader's language; None when it is fine."""
    if not value:
        return t._("That was empty. Please type some text.")
    limit = MAX_LENGTHS[field]
    if len(value) > limit:
        return t.ngettext(
            "That is too long: at most %(count)s character, and yours has %(length)s. "
            "Please shorten it.",
            "That is too long: at most %(count)s characters, and yours has %(length)s. "
            "Please shorten it.",
            limit,
            length=len(value),
        )
    return None


def field_line(t: Translator, field: str, value: str) -> str:
    """One field as a line of plain text: icon, name, value (isolated in RTL locales)."""
    return f"{ICONS[field]} " + t._(
        "%(label)s: %(value)s", label=field_label(t, field), value=value
    )


def field_lines(t: Translator, values: Mapping[str, str]) -> str:
    """Every field, one per line, as plain text."""
    return "\n".join(field_line(t, field, str(values.get(field, ""))) for field in FIELDS)
