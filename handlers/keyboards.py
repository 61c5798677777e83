"""Keyboards: pure functions of the translator (and of nothing else that changes)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.i18n import SHIPPED_LOCALES, Translator, native_name
from bot.router import callback
from bot.turn import Key, Keyboard


def main_menu(t: Translator) -> Keyboard:
    """Volunteer · Ask a question · Services · Share Passaparola · Settings."""
    return (
        (Key("🤝 " + t._("Volunteer"), callback("menu", "volunteer")),),
        (
            Key("❓ " + t._("Ask a question"), callback("menu", "ask")),
            Key("🏛 " + t._("Services"), callback("menu", "services")),
        ),
        (Key("📣 " + t._("Share Passaparola"), callback("menu", "share")),),
        (Key("⚙️ " + t._("Settings"), callback("menu", "settings")),),
    )


def in_rows(keys: Sequence[Key], columns: int = 2) -> list[tuple[Key, ...]]:
    """Lay keys out `columns` to a row."""
    return [tuple(keys[i : i + columns]) for i in range(0, len(keys), columns)]


def back_to_menu(t: Translator) -> Keyboard:
    """A single button back to the main menu."""
    return ((Key("⬅️ " + t._("Back to menu"), callback("menu", "open")),),)


def language_keyboard(suggested: str | None, payload: str = "", columns: int = 2) -> Keyboard:
    """Every shipped language by its native name; the suggested one first and alone on its row.

    `payload` is a deep link the person came with, carried on to the card after onboarding.
    """
    extra = (payload,) if payload else ()
    codes = [code for code in SHIPPED_LOCALES if code != suggested]
    keys = [Key(native_name(code), callback("lang", "set", code, *extra)) for code in codes]
    rows = in_rows(keys, columns)
    if suggested:
        first = Key("✅ " + native_name(suggested), callback("lang", "set", suggested, *extra))
        rows.insert(0, (first,))
    return tuple(rows)


def consent_keyboard(t: Translator, payload: str = "") -> Keyboard:
    """Accept the privacy notice (then open the deep link, if any), or leave with nothing stored."""
    extra = (payload,) if payload else ()
    return (
        (Key("✅ " + t._("I agree, continue"), callback("consent", "yes", *extra)),),
        (Key(t._("No thanks, delete my choice"), callback("consent", "no")),),
    )
