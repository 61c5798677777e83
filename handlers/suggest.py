"""Anyone tells us about an opportunity: a stored, guided flow that ends in the moderation queue.

Each answer is checked before the next question; a preview comes before anything is stored.
A person may send SUBMISSIONS_PER_DAY suggestions in any 24 hours.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from babel.dates import format_date, format_time

from bot.router import Expired, Router, callback
from bot.turn import Key, Keyboard, Message, Reply, Toast, Turn
from handlers.keyboards import back_to_menu
from handlers.submission_fields import field_lines, field_question, problem, tidy
from storage.deliveries import DeliveryRepository
from storage.flows import FlowRepository
from storage.models import Flow, utcnow
from storage.submissions import FIELDS, SubmissionRepository

router = Router()

FLOW = "suggest"
PREVIEW = "preview"
WINDOW = timedelta(days=1)


def submitter_id(turn: Turn) -> int:
    """The person suggesting; only people who finished onboarding get here."""
    if turn.user is None:
        raise Expired
    return turn.user.id


def cancel_row(turn: Turn) -> tuple[Key, ...]:
    """Leave the flow without sending anything."""
    return (Key("✖️ " + turn._("Cancel"), callback("sub", "cancel")),)


async def next_allowed(turn: Turn) -> datetime | None:
    """When the person may send again, if they reached today's limit; None if they may now."""
    limit = turn.settings.submissions_per_day
    sent = await SubmissionRepository(turn.session).sent_since(
        submitter_id(turn), utcnow() - WINDOW
    )
    if len(sent) < limit:
        return None
    return sent[len(sent) - limit] + WINDOW


def limit_reached(turn: Turn, allowed_from: datetime) -> list[Reply]:
    """Say the daily limit and when the next suggestion can be sent."""
    local = allowed_from.astimezone(turn.settings.zone)
    when = turn._(
        "%(date)s at %(time)s",
        date=format_date(local, "medium", locale=turn.t.locale),
        time=format_time(local, "short", locale=turn.t.locale),
    )
    text = "⏳ " + turn.ngettext(
        "You can suggest up to %(count)s opportunity a day, and you have reached that. "
        "Thank you! You can send the next one from %(when)s.",
        "You can suggest up to %(count)s opportunities a day, and you have reached that. "
        "Thank you! You can send the next one from %(when)s.",
        turn.settings.submissions_per_day,
        when=when,
    )
    return [Message(text, back_to_menu(turn.t))]


async def begin(turn: Turn, *, edit: bool) -> list[Reply]:
    """Open the flow at the first question, unless the daily limit is reached."""
    allowed_from = await next_allowed(turn)
    if allowed_from is not None:
        return limit_reached(turn, allowed_from)
    await FlowRepository(turn.session).start(submitter_id(turn), FLOW, FIELDS[0], {})
    intro = "💡 " + turn._(
        "Tell us about a volunteering opportunity you know, in your own language. "
        "Five short questions; our team checks every suggestion before it is published."
    )
    text = f"{intro}\n\n{field_question(turn.t, FIELDS[0])}"
    return [Message(text, (cancel_row(turn),), edit=edit)]


@router.command("suggest")
async def suggest_command(turn: Turn) -> list[Reply]:
    """/suggest: tell us about an opportunity."""
    return await begin(turn, edit=False)


async def open_flow(turn: Turn) -> Flow:
    """The person's suggestion flow; Expired when none is open."""
    flow = await FlowRepository(turn.session).current(submitter_id(turn))
    if flow is None or flow.name != FLOW:
        raise Expired
    return flow


def preview_keyboard(turn: Turn) -> Keyboard:
    """Send · Start again · Cancel."""
    return (
        (Key("📨 " + turn._("Send"), callback("sub", "send")),),
        (Key("🔄 " + turn._("Start again"), callback("sub", "restart")),),
        cancel_row(turn),
    )


def preview(turn: Turn, flow: Flow, *, edit: bool) -> list[Reply]:
    """Everything typed, as our team will read it, before it is sent."""
    heading = "👀 " + turn._("Please check what you wrote. Send it to our team when it is right.")
    values = {field: str(flow.data.get(field, "")) for field in FIELDS}
    text = f"{heading}\n\n{field_lines(turn.t, values)}"
    return [Message(text, preview_keyboard(turn), edit=edit, preview=False)]


@router.flow(FLOW)
async def typed(turn: Turn, text: str) -> list[Reply]:
    """Text typed during the flow answers the current question."""
    flow = await open_flow(turn)
    if flow.step not in FIELDS:
        return preview(turn, flow, edit=False)
    value = tidy(flow.step, text)
    wrong = problem(turn.t, flow.step, value)
    if wrong is not None:
        return [Message("⚠️ " + wrong, (cancel_row(turn),))]
    position = FIELDS.index(flow.step)
    following = FIELDS[position + 1] if position + 1 < len(FIELDS) else PREVIEW
    await FlowRepository(turn.session).advance(flow, following, **{flow.step: value})
    if following == PREVIEW:
        return preview(turn, flow, edit=False)
    return [Message(field_question(turn.t, following), (cancel_row(turn),))]


@router.button("sub")
async def pressed(turn: Turn, args: tuple[str, ...]) -> list[Reply]:
    """sub:new · sub:send · sub:restart · sub:cancel."""
    match args:
        case ("new",):
            return await begin(turn, edit=True)
        case ("restart",):
            await open_flow(turn)
            return await begin(turn, edit=True)
        case ("cancel",):
            await FlowRepository(turn.session).end(submitter_id(turn), FLOW)
            text = "✖️ " + turn._("Cancelled. Nothing was sent.")
            return [Message(text, back_to_menu(turn.t), edit=True)]
        case ("send",):
            return await send(turn)
    raise Expired


async def send(turn: Turn) -> list[Reply]:
    """Queue the suggestion for the moderators, and close the flow."""
    flow = await open_flow(turn)
    if flow.step != PREVIEW:
        raise Expired
    values = {field: tidy(field, str(flow.data.get(field, ""))) for field in FIELDS}
    if any(problem(turn.t, field, value) for field, value in values.items()):
        raise Expired
    flows = FlowRepository(turn.session)
    allowed_from = await next_allowed(turn)
    if allowed_from is not None:
        await flows.end(submitter_id(turn), FLOW)
        return limit_reached(turn, allowed_from)
    submission_id = await SubmissionRepository(turn.session).create(
        submitter_id(turn), turn.t.locale, values
    )
    await flows.end(submitter_id(turn), FLOW)
    reviewers = set(await turn.users.with_role("moderator", "admin")) - {submitter_id(turn)}
    await DeliveryRepository(turn.session).enqueue_many(
        sorted(reviewers), "suggestion", {}, dedupe_prefix=f"sub{submission_id}:"
    )
    text = "📨 " + turn._(
        "Thank you! Our team will check your suggestion. "
        "I will tell you here when it is published, or why it could not be."
    )
    return [Toast(turn._("Sent!")), Message(text, back_to_menu(turn.t), edit=True)]
