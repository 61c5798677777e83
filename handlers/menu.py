"""The main menu and its entries."""

from __future__ import annotations

from urllib.parse import urlencode

from bot.router import Expired, Router
from bot.turn import Key, Message, Reply, Turn
from handlers import questions, services, volunteer
from handlers.keyboards import back_to_menu
from handlers.onboarding import show_menu
from handlers.settings import show_settings
from storage.flows import FlowRepository

router = Router()


@router.command("menu")
async def menu_command(turn: Turn) -> list[Reply]:
    """/menu: show the main menu."""
    return await show_menu(turn)


@router.button("menu")
async def menu_button(turn: Turn, args: tuple[str, ...]) -> list[Reply]:
    """menu:<entry>: open one entry of the main menu, replacing the menu message."""
    if len(args) != 1:
        raise Expired
    entry = args[0]
    if entry == "open":
        if turn.user is not None:
            await FlowRepository(turn.session).end(turn.user.id, volunteer.FLOW)
            await FlowRepository(turn.session).end(turn.user.id, questions.FLOW)
        return await show_menu(turn, edit=True)
    if entry == "volunteer":
        return await volunteer.home(turn)
    if entry == "ask":
        return await questions.invite(turn)
    if entry == "services":
        return await services.home(turn)
    if entry == "share":
        return [share(turn)]
    if entry == "settings":
        return await show_settings(turn, edit=True)
    raise Expired


def share(turn: Turn) -> Message:
    """A link to Passaparola, and a button that passes it on to any chat."""
    link = turn.event.bot_url
    invitation = turn._("Passaparola helps newcomers find volunteering and local services.")
    share_url = "https://t.me/share/url?" + urlencode({"url": link, "text": invitation})
    text = "📣 " + turn._(
        "Know someone who could use Passaparola? Send them this link: %(link)s", link=link
    )
    keyboard = ((Key("📤 " + turn._("Share with a friend"), url=share_url),), *back_to_menu(turn.t))
    return Message(text, keyboard, edit=True)
