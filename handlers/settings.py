"""Settings: language, privacy notice, deleting one's data."""

from __future__ import annotations

from bot.i18n import native_name
from bot.router import Router, callback
from bot.turn import Key, Message, Reply, Turn
from handlers.keyboards import back_to_menu

router = Router()


async def show_settings(turn: Turn, *, edit: bool = False) -> list[Reply]:
    """The settings page, naming the current language."""
    language = native_name(turn.t.locale)
    keyboard = (
        (
            Key(
                "🌍 " + turn._("Language: %(language)s", language=language),
                callback("lang", "pick"),
            ),
        ),
        (Key("🔒 " + turn._("Privacy notice"), callback("privacy", "show")),),
        (Key("🗑 " + turn._("Delete my data"), callback("forget", "ask")),),
        *back_to_menu(turn.t),
    )
    return [Message("⚙️ " + turn._("Settings"), keyboard, edit=edit)]
