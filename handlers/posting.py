"""Coordinators: post an opportunity through a stored, guided flow; list, edit and close their own.

Every step validates what was typed and says exactly what is wrong. The role and the
organisation are checked again at every step, whatever button or text triggered it.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Any

from babel.dates import get_day_names

from bot.i18n import SHIPPED_LOCALES, native_name
from bot.router import Expired, Router, callback
from bot.turn import Key, Message, Reply, Toast, Turn
from handlers.cards import card_text
from handlers.keyboards import back_to_menu, in_rows
from handlers.vocabulary import CATEGORIES, SKILLS, category_label, skill_label
from storage.flows import FlowRepository
from storage.models import Flow, OpportunityStatus, Schedule, utcnow
from storage.opportunities import OpportunityCard, OpportunityData, OpportunityRepository

router = Router()

FLOW = "post"
STEPS = ("title", "description", "category", "skills", "languages", "area", "when", "capacity",
         "contact", "preview")  # fmt: skip
TITLE_LIMITS = (3, 100)
DESCRIPTION_LIMITS = (10, 1500)
CONTACT_LIMIT = 200
MAX_CAPACITY = 10_000
DATE_PATTERN = re.compile(
    r"^(?:(?P<y1>\d{4})-(?P<m1>\d{1,2})-(?P<d1>\d{1,2})|(?P<d2>\d{1,2})[./](?P<m2>\d{1,2})[./](?P<y2>\d{4}))"
    r"\s+(?P<hour>\d{1,2})[:.](?P<minute>\d{2})$"
)
TIME_PATTERN = re.compile(r"^(?P<hour>\d{1,2})[:.](?P<minute>\d{2})$")


class NotAllowed(Exception):
    """The user is not (or no longer) a coordinator of the organisation concerned."""


def organisation_of(turn: Turn) -> int:
    """The organisation the user coordinates, checked now; NotAllowed otherwise."""
    user = turn.user
    if user is None or "coordinator" not in user.roles or user.organisation_id is None:
        raise NotAllowed
    return user.organisation_id


def refusal(turn: Turn) -> list[Reply]:
    """What a non-coordinator gets for a coordinator's command or button."""
    text = "🔒 " + turn._(
        "Only coordinators of an organisation can do this. "
        "If you run activities, ask the city staff to add you as a coordinator."
    )
    return [Message(text, back_to_menu(turn.t))]


def digits(text: str) -> str:
    """Arabic-Indic, Persian and other decimal digits become 0-9, so any keyboard works."""
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)


# --- questions, one per step -----------------------------------------------------------------


def question(turn: Turn, step: str, data: dict[str, Any], areas: list[tuple[int, str]]) -> Message:
    """The message that asks for `step`, with its buttons."""
    cancel = (Key("✖️ " + turn._("Cancel"), callback("post", "cancel")),)
    if step == "title":
        text = turn._("What is the title? One short line, for example: Homework help for children.")
        return Message("✏️ " + text, (cancel,))
    if step == "description":
        text = turn._(
            "Describe the activity in a few sentences: what volunteers do, and with whom."
        )
        return Message("📝 " + text, (cancel,))
    if step == "category":
        keys = [
            Key(category_label(turn.t, code), callback("post", "cat", code)) for code in CATEGORIES
        ]
        rows = in_rows(keys)
        return Message("🗂 " + turn._("Which category fits best?"), (*rows, cancel), edit=True)
    if step == "skills":
        chosen = set(data.get("skills", []))
        keys = [
            Key(
                ("✅ " if code in chosen else "▫️ ") + skill_label(turn.t, code),
                callback("post", "skill", code),
            )
            for code in SKILLS
        ]
        rows = in_rows(keys)
        text = turn._("Which skills help? Tick any number, then press Next.")
        return Message("🧰 " + text, (*rows, next_row(turn), cancel), edit=True)
    if step == "languages":
        chosen = set(data.get("languages", []))
        keys = [
            Key(
                ("✅ " if code in chosen else "▫️ ") + native_name(code),
                callback("post", "lang", code),
            )
            for code in SHIPPED_LOCALES
        ]
        rows = in_rows(keys)
        text = turn._("Which languages are spoken at the activity? Tick all, then press Next.")
        return Message("🗣 " + text, (*rows, next_row(turn), cancel), edit=True)
    if step == "area":
        keys = [Key(name, callback("post", "area", area_id)) for area_id, name in areas]
        rows = in_rows(keys)
        return Message(
            "📍 " + turn._("In which area does it take place?"), (*rows, cancel), edit=True
        )
    if step == "when":
        rows = (
            (Key("📅 " + turn._("On one date"), callback("post", "when", "once")),),
            (Key("🔁 " + turn._("Every week"), callback("post", "when", "weekly")),),
            (Key("🕊 " + turn._("Flexible"), callback("post", "when", "flexible")),),
        )
        return Message("🕒 " + turn._("When does it happen?"), (*rows, cancel), edit=True)
    if step == "date":
        text = turn._(
            "Type the date and time, for example: %(example)s", example="24/01/2027 15:30"
        )
        return Message("📅 " + text, (cancel,), edit=True)
    if step == "days":
        names = get_day_names("wide", locale=turn.t.locale)
        chosen = set(data.get("weekdays", []))
        keys = [
            Key(("✅ " if day in chosen else "▫️ ") + names[day], callback("post", "day", day))
            for day in range(7)
        ]
        rows = in_rows(keys)
        return Message(
            "🔁 " + turn._("On which days? Tick them, then press Next."),
            (*rows, next_row(turn), cancel),
            edit=True,
        )
    if step == "time":
        text = turn._("At what time does it start? For example: %(example)s", example="18:30")
        return Message("🕒 " + text, (cancel,), edit=True)
    if step == "capacity":
        text = turn._("How many volunteers can take part? Type a number, or press No limit.")
        rows = ((Key("♾ " + turn._("No limit"), callback("post", "nolimit")),), cancel)
        return Message("👥 " + text, rows, edit=True)
    if step == "contact":
        text = turn._(
            "How can volunteers reach you? A phone number, an e-mail or a Telegram @name."
        )
        return Message("☎️ " + text, (cancel,), edit=True)
    raise ValueError(step)


def next_row(turn: Turn) -> tuple[Key, ...]:
    """Next, for multiple-choice steps."""
    return (Key(turn._("Next") + " ▶️", callback("post", "next")),)


# --- the flow --------------------------------------------------------------------------------


async def open_flow(turn: Turn) -> tuple[Flow, int]:
    """The user's posting flow and organisation; Expired when there is no such flow."""
    organisation_id = organisation_of(turn)
    assert turn.user is not None
    flow = await FlowRepository(turn.session).current(turn.user.id)
    if flow is None or flow.name != FLOW:
        raise Expired
    return flow, organisation_id


async def ask(turn: Turn, flow: Flow, step: str, *, edit: bool = True) -> list[Reply]:
    """Move the flow to `step` and ask its question (or show the preview)."""
    await FlowRepository(turn.session).advance(flow, step)
    if step == "preview":
        return await preview(turn, flow, edit=edit)
    areas = await OpportunityRepository(turn.session).areas() if step == "area" else []
    message = question(turn, step, flow.data, areas)
    return [Message(message.text, message.keyboard, edit=edit and message.edit)]


async def after(turn: Turn, flow: Flow, step: str, *, edit: bool = True) -> list[Reply]:
    """The step after `step`, or back to the preview when editing."""
    if flow.data.get("editing"):
        return await ask(turn, flow, "preview", edit=edit)
    return await ask(turn, flow, STEPS[STEPS.index(step) + 1], edit=edit)


def problem(turn: Turn, flow: Flow, text: str) -> list[Reply]:
    """Say exactly what is wrong and ask again."""
    cancel = ((Key("✖️ " + turn._("Cancel"), callback("post", "cancel")),),)
    return [Message("⚠️ " + text, cancel)]


@router.command("post")
async def post_command(turn: Turn) -> list[Reply]:
    """/post: a coordinator starts a new opportunity."""
    try:
        organisation_of(turn)
    except NotAllowed:
        return refusal(turn)
    assert turn.user is not None
    flow = await FlowRepository(turn.session).start(turn.user.id, FLOW, "title", {})
    return await ask(turn, flow, "title", edit=False)


@router.flow(FLOW)
async def typed(turn: Turn, text: str) -> list[Reply]:
    """Text typed during the flow answers the current step."""
    try:
        flow, _ = await open_flow(turn)
    except NotAllowed:
        return refusal(turn)
    text = text.strip()
    step = flow.step
    flows = FlowRepository(turn.session)
    if step == "title":
        low, high = TITLE_LIMITS
        if not low <= len(text) <= high:
            return problem(
                turn,
                flow,
                turn._(
                    "The title must be %(low)s to %(high)s characters long; yours has %(count)s.",
                    low=low,
                    high=high,
                    count=len(text),
                ),
            )
        await flows.advance(flow, step, title=text)
    elif step == "description":
        low, high = DESCRIPTION_LIMITS
        if not low <= len(text) <= high:
            return problem(
                turn,
                flow,
                turn._(
                    "The description must be %(low)s to %(high)s characters long; "
                    "yours has %(count)s.",
                    low=low,
                    high=high,
                    count=len(text),
                ),
            )
        await flows.advance(flow, step, description=text)
    elif step == "date":
        starts = parse_date(digits(text), turn)
        if starts is None:
            return problem(
                turn,
                flow,
                turn._(
                    "I could not read that date. Please write it like this: %(example)s",
                    example="24/01/2027 15:30",
                ),
            )
        if starts <= utcnow():
            return problem(
                turn,
                flow,
                turn._("That date has already passed. Please give a date in the future."),
            )
        await flows.advance(
            flow, step, schedule="once", starts_at=starts.isoformat(), weekdays=[], start_time=""
        )
        return await after(turn, flow, "when", edit=False)
    elif step == "time":
        match = TIME_PATTERN.match(digits(text))
        if match is None or int(match["hour"]) > 23 or int(match["minute"]) > 59:
            return problem(
                turn, flow, turn._("Please write the time like this: %(example)s", example="18:30")
            )
        start_time = f"{int(match['hour']):02d}:{match['minute']}"
        await flows.advance(flow, step, schedule="weekly", start_time=start_time, starts_at=None)
        return await after(turn, flow, "when", edit=False)
    elif step == "capacity":
        number = digits(text)
        if not number.isdigit() or not 1 <= int(number) <= MAX_CAPACITY:
            return problem(
                turn,
                flow,
                turn._(
                    "Please type a whole number from 1 to %(max)s, or press No limit.",
                    max=MAX_CAPACITY,
                ),
            )
        await flows.advance(flow, step, capacity=int(number))
    elif step == "contact":
        if not 3 <= len(text) <= CONTACT_LIMIT:
            return problem(
                turn,
                flow,
                turn._("The contact must be 3 to %(max)s characters long.", max=CONTACT_LIMIT),
            )
        await flows.advance(flow, step, contact=text)
    else:
        return [
            Message(
                "👆 " + turn._("Please use the buttons above."),
                ((Key("✖️ " + turn._("Cancel"), callback("post", "cancel")),),),
            )
        ]
    return await after(turn, flow, step, edit=False)


def parse_date(text: str, turn: Turn) -> datetime | None:
    """'24/01/2027 15:30', '24.01.2027 15:30' or '2027-01-24 15:30', in the city's time zone."""
    match = DATE_PATTERN.match(" ".join(text.split()))
    if match is None:
        return None
    year, month, day = (
        (match["y1"], match["m1"], match["d1"])
        if match["y1"]
        else (match["y2"], match["m2"], match["d2"])
    )
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(match["hour"]),
            int(match["minute"]),
            tzinfo=turn.settings.zone,
        )
    except ValueError:
        return None


@router.button("post")
async def pressed(turn: Turn, args: tuple[str, ...]) -> list[Reply]:
    """post:<what>:...: the flow's buttons."""
    try:
        flow, organisation_id = await open_flow(turn)
    except NotAllowed:
        return refusal(turn)
    flows = FlowRepository(turn.session)
    data = flow.data
    match args:
        case ("cancel",):
            assert turn.user is not None
            await flows.end(turn.user.id, FLOW)
            return [
                Message(
                    "✖️ " + turn._("Cancelled. Nothing was published."),
                    back_to_menu(turn.t),
                    edit=True,
                )
            ]
        case ("cat", code) if code in CATEGORIES and flow.step == "category":
            await flows.advance(flow, "category", category=code)
            return await after(turn, flow, "category")
        case ("skill", code) if code in SKILLS and flow.step == "skills":
            await flows.advance(flow, "skills", skills=sorted(set(data.get("skills", [])) ^ {code}))
            return await ask(turn, flow, "skills")
        case ("lang", code) if code in SHIPPED_LOCALES and flow.step == "languages":
            await flows.advance(
                flow, "languages", languages=sorted(set(data.get("languages", [])) ^ {code})
            )
            return await ask(turn, flow, "languages")
        case ("day", day) if day.isdigit() and int(day) < 7 and flow.step == "days":
            await flows.advance(
                flow, "days", weekdays=sorted(set(data.get("weekdays", [])) ^ {int(day)})
            )
            return await ask(turn, flow, "days")
        case ("next",) if flow.step in ("skills", "languages"):
            if flow.step == "languages" and not data.get("languages"):
                return [Toast(turn._("Please tick at least one language."))]
            return await after(turn, flow, flow.step)
        case ("next",) if flow.step == "days":
            if not data.get("weekdays"):
                return [Toast(turn._("Please tick at least one day."))]
            return await ask(turn, flow, "time")
        case ("area", area) if area.isdigit() and flow.step == "area":
            if await OpportunityRepository(turn.session).area_name(int(area)) is None:
                raise Expired
            await flows.advance(flow, "area", area_id=int(area))
            return await after(turn, flow, "area")
        case ("when", kind) if flow.step == "when":
            if kind == "once":
                return await ask(turn, flow, "date")
            if kind == "weekly":
                return await ask(turn, flow, "days")
            if kind == "flexible":
                await flows.advance(
                    flow, "when", schedule="flexible", starts_at=None, weekdays=[], start_time=""
                )
                return await after(turn, flow, "when")
        case ("nolimit",) if flow.step == "capacity":
            await flows.advance(flow, "capacity", capacity=None)
            return await after(turn, flow, "capacity")
        case ("edit", step) if step in STEPS[:-1] and flow.step == "preview":
            await flows.advance(flow, step, editing=True)
            return await ask(turn, flow, step)
        case ("publish",) if flow.step == "preview":
            return await publish(turn, flow, organisation_id)
    raise Expired


# --- preview and publish ---------------------------------------------------------------------


def draft_card(turn: Turn, data: dict[str, Any], organisation: str) -> OpportunityCard:
    """The flow's data as a card, exactly as newcomers will see it."""
    starts = data.get("starts_at")
    return OpportunityCard(
        id=int(data.get("id") or 0),
        organisation_id=0,
        organisation=organisation,
        category=str(data.get("category", "other")),
        area_id=data.get("area_id"),
        source_locale=turn.t.locale,
        texts={
            turn.t.locale: (
                str(data.get("title", "")),
                str(data.get("description", "")),
                str(data.get("how_to_join", "")),
            )
        },
        area=str(data.get("area_name", "")),
        address=str(data.get("address", "")),
        schedule=Schedule(data.get("schedule", "flexible")),
        starts_at=datetime.fromisoformat(starts) if starts else None,
        weekdays=tuple(data.get("weekdays", [])),
        start_time=str(data.get("start_time", "")),
        min_age=int(data.get("min_age", 0)),
        capacity=data.get("capacity"),
        contact=str(data.get("contact", "")),
        skills=tuple(data.get("skills", [])),
        languages=tuple(data.get("languages", [])),
        status=OpportunityStatus.DRAFT,
    )


async def preview(turn: Turn, flow: Flow, *, edit: bool) -> list[Reply]:
    """The card as it will look, with a button to change each field, then Publish."""
    opportunities = OpportunityRepository(turn.session, turn.settings.zone)
    area_id = flow.data.get("area_id")
    area = await opportunities.area_name(int(area_id)) if area_id else None
    organisation = await opportunities.organisation_name(organisation_of(turn))
    card = draft_card(turn, {**flow.data, "area_name": area or ""}, organisation)
    labels = {
        "title": turn._("Title"), "description": turn._("Description"),
        "category": turn._("Category"), "skills": turn._("Skills"),
        "languages": turn._("Languages"), "area": turn._("Area"), "when": turn._("When"),
        "capacity": turn._("Places"), "contact": turn._("Contact"),
    }  # fmt: skip
    keys = [Key("✏️ " + label, callback("post", "edit", step)) for step, label in labels.items()]
    rows = in_rows(keys, 3)
    rows.append((Key("✅ " + turn._("Publish"), callback("post", "publish")),))
    rows.append((Key("✖️ " + turn._("Cancel"), callback("post", "cancel")),))
    heading = "👀 " + turn._(
        "Preview: this is how newcomers will see it. Change anything, then publish."
    )
    return [
        Message(
            f"{heading}\n\n{card_text(turn.t, card, turn.settings.zone)}", tuple(rows), edit=edit
        )
    ]


async def publish(turn: Turn, flow: Flow, organisation_id: int) -> list[Reply]:
    """Save the opportunity as published, tell followers, and close the flow."""
    assert turn.user is not None
    data = flow.data
    opportunities = OpportunityRepository(turn.session, turn.settings.zone)
    existing_id = data.get("id")
    texts = {
        turn.t.locale: (
            str(data["title"]),
            str(data["description"]),
            str(data.get("how_to_join", "")),
        )
    }
    source_locale = turn.t.locale
    if existing_id:
        card = await opportunities.card(int(existing_id))
        if card is None or card.organisation_id != organisation_id:
            raise Expired
        texts = {**card.texts, **texts}
        source_locale = card.source_locale
    starts = data.get("starts_at")
    opportunity = OpportunityData(
        organisation_id=organisation_id,
        category=str(data["category"]),
        source_locale=source_locale,
        city=await opportunities.organisation_city(organisation_id),
        texts=texts,
        schedule=Schedule(data.get("schedule", "flexible")),
        starts_at=datetime.fromisoformat(starts) if starts else None,
        weekdays=tuple(data.get("weekdays", [])),
        start_time=str(data.get("start_time", "")),
        area_id=data.get("area_id"),
        address=str(data.get("address", "")),
        capacity=data.get("capacity"),
        contact=str(data.get("contact", "")),
        skills=tuple(data.get("skills", [])),
        languages=tuple(data.get("languages", [])),
    )
    opportunity_id, newly_published = await opportunities.save(
        opportunity,
        opportunity_id=existing_id,
        status=OpportunityStatus.PUBLISHED,
        created_by=turn.user.id,
    )
    if newly_published:
        await opportunities.notify_followers(opportunity_id)
    await FlowRepository(turn.session).end(turn.user.id, FLOW)
    text = "🎉 " + turn._(
        "Published! Newcomers can find it now, and followers of the category will be told."
    )
    keyboard = (
        (Key("📋 " + turn._("My opportunities"), callback("org", "mine")),),
        *back_to_menu(turn.t),
    )
    return [Toast(turn._("Published!")), Message(text, keyboard, edit=True)]
