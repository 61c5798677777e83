"""Everything the bot does not understand gets a helpful answer and the menu, never silence."""

from __future__ import annotations

from bot.i18n import Translator
from bot.turn import Key, Message, Reply, Toast, Turn
from handlers.keyboards import main_menu


async def not_understood(turn: Turn) -> list[Reply]:
    """Free text that no feature claimed."""
    text = "🤔 " + turn._(
        "Sorry, I didn't understand that. Please use the buttons below, or send %(help)s.",
        help="/help",
    )
    return [Message(text, main_menu(turn.t))]


async def unknown_command(turn: Turn, name: str) -> list[Reply]:
    """A slash command we do not have."""
    text = "🤔 " + turn._(
        "I don't know the command %(command)s. Send %(help)s to see what I can do.",
        command="/" + name,
        help="/help",
    )
    return [Message(text, main_menu(turn.t))]


def unsupported_text(turn: Turn, kind: str) -> str:
    """Why we cannot use this kind of message, in the user's words."""
    if kind in ("voice", "audio", "video_note"):
        return turn._("I can't listen to voice messages yet. Please write to me instead.")
    if kind in ("photo", "video", "sticker", "document", "animation"):
        return turn._("I can't look at pictures, stickers or files. Please write to me instead.")
    if kind in ("location", "venue"):
        return turn._("Thank you, but I can't use locations yet. Please choose from the menu.")
    if kind == "edited":
        return turn._("I don't read edited messages. Please send it again as a new message.")
    return turn._("I can only read text messages and buttons.")


async def unsupported(turn: Turn, kind: str) -> list[Reply]:
    """Stickers, voice, photos, locations, edits and the like."""
    return [Message("ℹ️ " + unsupported_text(turn, kind), main_menu(turn.t))]


async def expired(turn: Turn) -> list[Reply]:
    """A stale or forged button: say so, and offer the menu."""
    notice = turn._("This button has expired.")
    text = "⌛ " + notice + " " + turn._("Here is the menu.")
    return [Toast(notice), Message(text, main_menu(turn.t))]


async def group_chat(turn: Turn) -> list[Reply]:
    """In a group: point to a private chat, and never post anything personal here."""
    text = "👋 " + turn._(
        "Hi! To keep your data private, I talk with people one to one. "
        "Tap below to open a private chat with me."
    )
    keyboard = ((Key(turn._("Open a private chat"), url=turn.event.bot_url),),)
    return [Message(text, keyboard)]


def error_message(t: Translator, error_id: str) -> Message:
    """What the user sees when something broke on our side."""
    text = "⚠️ " + t._(
        "Sorry, something went wrong on our side (error %(error)s). Please try again in a moment.",
        error=error_id,
    )
    return Message(text, main_menu(t))


def error_alert(t: Translator, error_id: str) -> str:
    """What admins are told when a user hit an error."""
    return "🚨 " + t._(
        "Error %(error)s while answering a user. Details are in the log.", error=error_id
    )


def slow_down(t: Translator) -> Message:
    """Someone sends faster than a person types: ask them to pause (said once per flood)."""
    text = "🐢 " + t._(
        "You are sending messages very fast. Please wait a few seconds, then try again."
    )
    return Message(text)


def too_long(t: Translator, limit: int) -> Message:
    """A message longer than the bot accepts: say the limit."""
    text = "✂️ " + t.ngettext(
        "That message is too long for me. Please keep it under %(count)s character.",
        "That message is too long for me. Please keep it under %(count)s characters.",
        limit,
    )
    return Message(text, main_menu(t))
