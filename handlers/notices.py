"""How queued opportunity notifications read, rendered at send time in the recipient's language.

Payloads carry ids and the city's time zone; a notice about something that is gone renders as
None, and the queue cancels it.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator
from bot.router import callback
from bot.turn import Key, Message
from handlers.cards import card_text, when_text
from handlers.notifications import renders
from storage.models import Signup, User
from storage.opportunities import OpportunityRepository


def _zone(payload: dict[str, Any]) -> ZoneInfo:
    return ZoneInfo(str(payload.get("zone") or "Europe/Rome"))


def _open_button(t: Translator, opportunity_id: int) -> tuple[Key, ...]:
    return (Key("🔎 " + t._("Open"), callback("vol", "card", opportunity_id, "home")),)


@renders("opportunity")
async def new_opportunity(
    session: AsyncSession, t: Translator, user: User, payload: dict[str, Any]
) -> Message | None:
    """A follower hears about a newly published opportunity."""
    opportunities = OpportunityRepository(session, _zone(payload))
    opportunity_id = int(payload["opportunity_id"])
    card = await opportunities.card(opportunity_id)
    if card is None or not await opportunities.is_open(opportunity_id):
        return None
    text = "🔔 " + t._("New opportunity for you:") + "\n\n" + card_text(t, card, _zone(payload))
    return Message(text, (_open_button(t, card.id),))


async def _signup_and_card(session: AsyncSession, payload: dict[str, Any]):  # type: ignore[no-untyped-def]
    signup = await session.get(Signup, int(payload["signup_id"]))
    if signup is None:
        return None, None
    card = await OpportunityRepository(session, _zone(payload)).card(signup.opportunity_id)
    return signup, card


@renders("reminder")
async def reminder(
    session: AsyncSession, t: Translator, user: User, payload: dict[str, Any]
) -> Message | None:
    """The day before a dated activity, the people signed up are reminded."""
    signup, card = await _signup_and_card(session, payload)
    if signup is None or card is None or signup.withdrawn_at is not None:
        return None
    if not await OpportunityRepository(session).is_open(card.id):
        return None
    _, (title, _, _) = card.text(t.locale)
    when = when_text(
        t, card.schedule, card.starts_at, card.weekdays, card.start_time, _zone(payload)
    )
    text = "⏰ " + t._(
        "Reminder: “%(title)s” is tomorrow, %(when)s. Where: %(place)s.",
        title=title,
        when=when,
        place=card.area + (f", {card.address}" if card.address else ""),
    )
    keyboard = (
        _open_button(t, card.id),
        (Key("↩️ " + t._("I can't come any more"), callback("vol", "leave", card.id, "home")),),
    )
    return Message(text, keyboard)


@renders("signup")
async def new_signup(
    session: AsyncSession, t: Translator, user: User, payload: dict[str, Any]
) -> Message | None:
    """A coordinator hears who signed up, with the details the volunteer agreed to share."""
    signup, card = await _signup_and_card(session, payload)
    if signup is None or card is None or signup.withdrawn_at is not None:
        return None
    _, (title, _, _) = card.text(t.locale)
    text = "🙋 " + t._(
        "New sign-up for “%(title)s”: %(name)s (%(contact)s). Please write to them.",
        title=title,
        name=signup.first_name,
        contact=signup.contact,
    )
    total = t.ngettext(
        "%(count)s person signed up so far.", "%(count)s people signed up so far.", card.signups
    )
    return Message(
        f"{text}\n{total}", ((Key("👥 " + t._("Sign-ups"), callback("org", "people", card.id)),),)
    )


@renders("withdrawal")
async def withdrawal(
    session: AsyncSession, t: Translator, user: User, payload: dict[str, Any]
) -> Message | None:
    """A coordinator hears that someone can no longer come."""
    signup, card = await _signup_and_card(session, payload)
    if signup is None or card is None or signup.withdrawn_at is None:
        return None
    _, (title, _, _) = card.text(t.locale)
    text = "↩️ " + t._(
        "%(name)s (%(contact)s) can no longer come to “%(title)s”.",
        name=signup.first_name,
        contact=signup.contact,
        title=title,
    )
    return Message(text)
