"""The main menu and its entries."""

from __future__ import annotations

from bot.router import Expired, Router
from bot.turn import Reply, Turn
from handlers import questions, services, sharing, volunteer
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
        if turn.user is not None:  # whatever was half done is left: typing no longer feeds it
            await FlowRepository(turn.session).end(turn.user.id)
        return await show_menu(turn, edit=True)
    if entry == "volunteer":
        return await volunteer.home(turn)
    if entry == "ask":
        return await questions.invite(turn)
    if entry == "services":
        return await services.home(turn)
    if entry == "share":
        return await sharing.invite(turn, edit=True)
    if entry == "settings":
        return await show_settings(turn, edit=True)
    raise Expired
