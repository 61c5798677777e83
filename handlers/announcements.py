"""Staff announcements as people receive them: rendered in their language, and easy to mute.

A broadcast reaches each recipient in their own language, else in its fallback version. Anyone can
turn announcements off with /stop, the button under each announcement, or Settings; reminders
for activities they signed up for are not announcements and still arrive.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator
from bot.router import Expired, Router, callback
from bot.turn import Key, Message, Reply, Turn
from handlers.keyboards import back_to_menu
from handlers.notifications import Postponed, renders
from handlers.settings import show_settings
from storage.broadcasts import KIND, pick_version
from storage.deliveries import ON_HOLD
from storage.models import Broadcast, BroadcastStatus, User

router = Router()


def announcement(t: Translator, text: str, photo: str | None) -> Message:
    """One version of a broadcast exactly as a reader of `t`'s language receives it."""
    mute = Key("🔕 " + t._("Stop announcements"), callback("mute", "on"))
    return Message(text, ((mute,),), photo=photo)


@renders(KIND)
async def broadcast_message(
    session: AsyncSession, t: Translator, user: User, payload: dict[str, Any]
) -> Message | None:
    """The recipient's version; None once cancelled or muted; held while the broadcast is paused."""
    broadcast = await loaded_once(session, int(payload["broadcast_id"]))
    if broadcast is None or broadcast.status is BroadcastStatus.CANCELLED or user.muted:
        return None
    if broadcast.status not in (BroadcastStatus.SENDING, BroadcastStatus.DONE):
        raise Postponed(ON_HOLD)  # paused: resuming makes it due again
    version = pick_version(broadcast.texts, broadcast.fallback_locale, user.locale or t.locale)
    return announcement(t, broadcast.texts[version], broadcast.photo)


async def loaded_once(session: AsyncSession, broadcast_id: int) -> Broadcast | None:
    """The broadcast, read once per session: the worker renders a batch in one session, and the
    identity map alone would not keep the row (it holds objects weakly)."""
    cache: dict[int, Broadcast | None] = session.info.setdefault("broadcasts", {})
    if broadcast_id not in cache:
        cache[broadcast_id] = await session.get(Broadcast, broadcast_id)
    return cache[broadcast_id]


async def set_muted(turn: Turn, muted: bool) -> None:
    """Save the user's choice."""
    if turn.user is None:
        raise Expired
    await turn.users.set_muted(turn.user, muted)


def muted_message(turn: Turn) -> Message:
    """Confirmation that announcements are off, with the way back."""
    text = "🔕 " + turn._(
        "Done: you will not receive announcements from the staff any more. "
        "Reminders for activities you signed up for still arrive."
    )
    keyboard = (
        (Key("🔔 " + turn._("Turn announcements back on"), callback("mute", "off")),),
        *back_to_menu(turn.t),
    )
    return Message(text, keyboard)


@router.command("stop")
async def stop_command(turn: Turn) -> list[Reply]:
    """/stop: no more announcements."""
    await set_muted(turn, True)
    return [muted_message(turn)]


@router.button("mute")
async def mute_button(turn: Turn, args: tuple[str, ...]) -> list[Reply]:
    """mute:on|off — from an announcement or a confirmation; mute:on|off:set — from Settings."""
    match args:
        case ("on" | "off" as choice, "set"):
            await set_muted(turn, choice == "on")
            return await show_settings(turn, edit=True)
        case ("on",):
            await set_muted(turn, True)
            return [muted_message(turn)]  # a new message: the announcement stays readable
        case ("off",):
            await set_muted(turn, False)
            text = "🔔 " + turn._("Announcements are on again.")
            return [Message(text, back_to_menu(turn.t), edit=True)]
    raise Expired
