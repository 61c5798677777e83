"""/privacy shows the notice again; /forget deletes everything we store about the user."""

from __future__ import annotations

import json

from bot.router import Expired, Router, callback
from bot.turn import CommandMenu, Document, Key, Message, Reply, Turn
from handlers.keyboards import back_to_menu
from handlers.onboarding import privacy_notice, show_menu
from storage.export import export_user

router = Router()


@router.command("privacy")
async def privacy_command(turn: Turn) -> list[Reply]:
    """/privacy: the privacy notice."""
    return [Message(privacy_notice(turn), back_to_menu(turn.t))]


@router.command("forget")
async def forget_command(turn: Turn) -> list[Reply]:
    """/forget: ask before deleting."""
    return [confirm_forget(turn, edit=False)]


def confirm_forget(turn: Turn, *, edit: bool) -> Message:
    """The question before deletion, with yes / no."""
    text = "🗑 " + turn._(
        "This deletes everything we store about you: your language, your settings and your "
        "activity. It cannot be undone. Delete everything?"
    )
    keyboard = (
        (Key(turn._("Yes, delete everything"), callback("forget", "yes")),),
        (Key(turn._("No, keep my data"), callback("forget", "no")),),
    )
    return Message(text, keyboard, edit=edit)


@router.button("privacy")
async def privacy_button(turn: Turn, args: tuple[str, ...]) -> list[Reply]:
    """privacy:show from Settings."""
    if args != ("show",):
        raise Expired
    return [Message(privacy_notice(turn), back_to_menu(turn.t), edit=True)]


@router.button("forget")
async def forget_button(turn: Turn, args: tuple[str, ...]) -> list[Reply]:
    """forget:ask / forget:yes / forget:no."""
    if args == ("ask",):
        return [confirm_forget(turn, edit=True)]
    if args == ("no",):
        return await show_menu(turn, edit=True, greeting="👍 " + turn._("Nothing was deleted."))
    if args != ("yes",) or turn.user is None:
        raise Expired
    await turn.users.forget(turn.user)
    turn.user = None
    text = "✅ " + turn._(
        "Done. Everything we stored about you is deleted. "
        "Send %(start)s if you want to use Passaparola again.",
        start="/start",
    )
    return [CommandMenu(()), Message(text, edit=True)]


@router.command("mydata")
async def my_data(turn: Turn) -> list[Reply]:
    """/mydata: a JSON file with everything stored about the person (and nothing about others)."""
    if turn.user is None:
        raise Expired
    document = await export_user(turn.session, turn.user)
    content = json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
    caption = "📄 " + turn._(
        "Everything we store about you. Delete it all with %(forget)s.", forget="/forget"
    )
    return [Document("passaparola-my-data.json", content, caption)]
