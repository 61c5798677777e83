"""Coordinators' own opportunities: list, open, edit (through the posting flow), close, sign-ups.

Ownership is checked at the moment of every action: an opportunity of another organisation is
answered as an expired button, and nothing changes.
"""

from __future__ import annotations

from bot.router import Expired, Router, callback
from bot.turn import Key, Message, Reply, Toast, Turn
from handlers.cards import card_text
from handlers.keyboards import back_to_menu
from handlers.posting import FLOW, NotAllowed, ask, organisation_of, refusal
from storage.flows import FlowRepository
from storage.models import OpportunityStatus
from storage.opportunities import OpportunityCard, OpportunityRepository

router = Router()


async def mine(turn: Turn, *, edit: bool) -> list[Reply]:
    """The organisation's opportunities, each opening its tools."""
    organisation_id = organisation_of(turn)
    entries = await OpportunityRepository(turn.session).of_organisation(
        organisation_id, turn.t.locale
    )
    rows = [(Key(entry.title[:60], callback("org", "show", entry.id)),) for entry, _ in entries]
    rows.append((Key("➕ " + turn._("Post a new opportunity"), callback("org", "new")),))
    rows.extend(back_to_menu(turn.t))
    text = "📋 " + turn.ngettext(
        "Your organisation has %(count)s open opportunity.",
        "Your organisation has %(count)s open opportunities.",
        len(entries),
    )
    return [Message(text, tuple(rows), edit=edit)]


async def own_card(turn: Turn, opportunity_id: int) -> OpportunityCard:
    """An opportunity of the user's own organisation; Expired for anyone else's."""
    organisation_id = organisation_of(turn)
    card = await OpportunityRepository(turn.session, turn.settings.zone).card(opportunity_id)
    if card is None or card.organisation_id != organisation_id:
        raise Expired
    return card


@router.command("mine")
async def mine_command(turn: Turn) -> list[Reply]:
    """/mine: a coordinator's opportunities."""
    try:
        return await mine(turn, edit=False)
    except NotAllowed:
        return refusal(turn)


@router.button("org")
async def organisation_button(turn: Turn, args: tuple[str, ...]) -> list[Reply]:
    """org:<what>[:<id>]: a coordinator's tools for their own opportunities."""
    try:
        return await _organisation_action(turn, args)
    except NotAllowed:
        return refusal(turn)


async def _organisation_action(turn: Turn, args: tuple[str, ...]) -> list[Reply]:
    organisation_of(turn)
    match args:
        case ("mine",):
            return await mine(turn, edit=True)
        case ("new",):
            organisation_of(turn)
            assert turn.user is not None
            flow = await FlowRepository(turn.session).start(turn.user.id, FLOW, "title", {})
            return await ask(turn, flow, "title", edit=True)
        case ("show", item) if item.isdigit():
            card = await own_card(turn, int(item))
            rows = (
                (Key("✏️ " + turn._("Edit"), callback("org", "edit", card.id)),
                 Key("👥 " + turn._("Sign-ups (%(count)s)", count=card.signups),
                     callback("org", "people", card.id))),
                (Key("🔒 " + turn._("Close it"), callback("org", "close", card.id)),),
                (Key("⬅️ " + turn._("Back"), callback("org", "mine")),),
            )  # fmt: skip
            return [Message(card_text(turn.t, card, turn.settings.zone), rows, edit=True)]
        case ("edit", item) if item.isdigit():
            card = await own_card(turn, int(item))
            assert turn.user is not None
            _, (title, description, how_to_join) = card.text(turn.t.locale)
            data = {
                "id": card.id, "title": title, "description": description,
                "how_to_join": how_to_join, "category": card.category,
                "skills": list(card.skills), "languages": list(card.languages),
                "area_id": card.area_id,
                "address": card.address, "schedule": card.schedule.value,
                "starts_at": card.starts_at.isoformat() if card.starts_at else None,
                "weekdays": list(card.weekdays), "start_time": card.start_time,
                "capacity": card.capacity, "contact": card.contact, "min_age": card.min_age,
                "editing": True,
            }  # fmt: skip
            flow = await FlowRepository(turn.session).start(turn.user.id, FLOW, "preview", data)
            return await ask(turn, flow, "preview")
        case ("close", item) if item.isdigit():
            card = await own_card(turn, int(item))
            await OpportunityRepository(turn.session).set_status(
                card.id, OpportunityStatus.ARCHIVED
            )
            return [
                Toast(turn._("Closed. Newcomers no longer see it.")),
                *await mine(turn, edit=True),
            ]
        case ("people", item) if item.isdigit():
            card = await own_card(turn, int(item))
            people = await OpportunityRepository(turn.session).signups(card.id)
            _, (title, _, _) = card.text(turn.t.locale)
            lines = [
                f"👥 {title}",
                turn.ngettext(
                    "%(count)s person signed up.", "%(count)s people signed up.", len(people)
                ),
            ]
            lines += [
                f"• {turn.t.isolate(person.first_name)} — {turn.t.isolate(person.contact)}"
                for person in people
            ]
            return [
                Message(
                    "\n".join(lines),
                    ((Key("⬅️ " + turn._("Back"), callback("org", "show", card.id)),),),
                    edit=True,
                )
            ]
    raise Expired
