"""/help and the command list shown in Telegram's menu, both in the user's language."""

from __future__ import annotations

from bot.i18n import Translator
from bot.router import Router
from bot.turn import CommandMenu, Message, Reply, Turn
from handlers.keyboards import main_menu

router = Router()


def command_descriptions(t: Translator) -> tuple[tuple[str, str], ...]:
    """Every command with its one-line description, in the translator's language."""
    return (
        ("start", t._("Start and show the main menu")),
        ("menu", t._("Show the main menu")),
        ("volunteer", t._("Volunteering opportunities near you")),
        ("find", t._("Search opportunities, e.g. /find cooking")),
        ("suggest", t._("Tell us about a volunteering opportunity")),
        ("invite", t._("Invite a friend: your link and a QR code")),
        ("reach", t._("How far your sharing reached")),
        ("language", t._("Change the language")),
        ("help", t._("What I can do and how")),
        ("privacy", t._("What we store about you, and why")),
        ("mydata", t._("Get a copy of your data")),
        ("forget", t._("Delete all your data")),
    )


def command_menu(turn: Turn) -> CommandMenu:
    """This chat's command list, in the user's language."""
    return CommandMenu(command_descriptions(turn.t))


@router.command("help")
async def help_command(turn: Turn) -> list[Reply]:
    """/help: explain every command, and what kinds of message the bot understands."""
    intro = turn._("I help you find volunteering opportunities and local services.")
    commands = "\n".join(
        f"{turn.t.isolate('/' + name)} — {description}"
        for name, description in command_descriptions(turn.t)
    )
    outro = turn._(
        "You can also press the buttons under my messages. I read text and buttons; "
        "I can't listen to voice messages or look at photos yet."
    )
    return [Message(f"{intro}\n\n{commands}\n\n{outro}", main_menu(turn.t))]
