"""Moderators review what peers suggested: approve (maybe after editing), reject with a reason.

The role is checked at the moment of every action. Moderators see the submitter only as a
pseudonymous code and their language; links are shown as plain text and never previewed.
Edits live in the moderator's stored flow until the suggestion is approved.
"""

from __future__ import annotations

from typing import Any

from babel.dates import format_date

from bot.router import Expired, Router, callback
from bot.turn import Key, Message, Reply, Toast, Turn
from handlers.cards import language_name_in
from handlers.keyboards import back_to_menu, in_rows
from handlers.submission_fields import field_label, field_lines, problem, tidy
from handlers.submission_publish import publish
from handlers.vocabulary import (
    CATEGORIES,
    REJECTION_REASONS,
    category_label,
    rejection_reason_label,
)
from storage.audit import AuditLog
from storage.deliveries import DeliveryRepository
from storage.flows import FlowRepository
from storage.models import Flow, SubmissionStatus, User
from storage.opportunities import OpportunityRepository
from storage.pseudonyms import Pseudonyms
from storage.submissions import FIELDS, SubmissionRepository, SubmissionView

router = Router()

FLOW = "moderate"  # the moderator's edits to one suggestion: {"submission": id, "edits": {...}}
CHOOSING = "choose"  # step while no field is being typed


def is_moderator(turn: Turn) -> bool:
    """Moderators and admins review suggestions (checked at the moment of each action)."""
    return turn.user is not None and bool({"moderator", "admin"} & set(turn.user.roles))


def refusal(turn: Turn) -> list[Reply]:
    """What anyone else gets for moderation commands and buttons."""
    text = "🔒 " + turn._("Only moderators can review suggested opportunities.")
    return [Message(text, back_to_menu(turn.t))]


def moderator_id(turn: Turn) -> int:
    """The moderator acting now."""
    assert turn.user is not None
    return turn.user.id


# --- the moderator's edits ---------------------------------------------------------------------


async def edits_for(turn: Turn, submission_id: int) -> dict[str, str]:
    """The moderator's pending edits to this suggestion (none if they are editing another)."""
    flow = await FlowRepository(turn.session).current(moderator_id(turn))
    if flow is None or flow.name != FLOW or flow.data.get("submission") != submission_id:
        return {}
    edits: dict[str, Any] = flow.data.get("edits") or {}
    return {field: str(edits[field]) for field in FIELDS if field in edits}


async def editing_flow(turn: Turn, submission_id: int) -> Flow:
    """The moderator's edit flow for this suggestion, opened (empty) if needed."""
    flows = FlowRepository(turn.session)
    flow = await flows.current(moderator_id(turn))
    if flow is None or flow.name != FLOW or flow.data.get("submission") != submission_id:
        data: dict[str, object] = {"submission": submission_id, "edits": {}}
        flow = await flows.start(moderator_id(turn), FLOW, CHOOSING, data)
    return flow


async def pending(turn: Turn, submission_id: int) -> SubmissionView:
    """The suggestion, if it still waits for a decision; Expired otherwise."""
    item = await SubmissionRepository(turn.session).get(submission_id)
    if item is None or item.status is not SubmissionStatus.PENDING:
        raise Expired
    if item.submitter_id == moderator_id(turn):
        raise Expired  # nobody decides on their own suggestion; it waits for another moderator
    return item


# --- the queue and the review card ---------------------------------------------------------------


@router.command("moderate")
async def moderate_command(turn: Turn) -> list[Reply]:
    """/moderate: how many suggestions wait, and the oldest one."""
    if not is_moderator(turn):
        return refusal(turn)
    return await queue(turn, edit=False)


async def queue(turn: Turn, *, after_id: int = 0, edit: bool, notice: str = "") -> list[Reply]:
    """The number waiting and the next suggestion after `after_id` (oldest first, wrapping)."""
    submissions = SubmissionRepository(turn.session)
    count = await submissions.pending_count(moderator_id(turn))
    item = await submissions.next_pending(moderator_id(turn), after_id)
    heading = "🗂 " + turn.ngettext(
        "%(count)s suggestion is waiting for review.",
        "%(count)s suggestions are waiting for review.",
        count,
    )
    if notice:
        heading = f"{notice}\n\n{heading}"
    if item is None:
        text = f"{heading}\n\n✅ " + turn._("Nothing is waiting. Thank you!")
        return [Message(text, back_to_menu(turn.t), edit=edit)]
    return [await review_card(turn, item, heading, count, edit=edit)]


async def review_card(
    turn: Turn, item: SubmissionView, heading: str, count: int, *, edit: bool
) -> Message:
    """One suggestion as plain text, with the moderator's edits applied, and the decisions."""
    edits = await edits_for(turn, item.id)
    submitter = await turn.session.get(User, item.submitter_id) if item.submitter_id else None
    local = item.created_at.astimezone(turn.settings.zone)
    origin = "💡 " + turn._(
        "From %(who)s, in %(language)s, sent on %(date)s",
        who=(await Pseudonyms.load(turn.session)).of(submitter) if submitter else "—",
        language=language_name_in(item.locale, turn.t.locale),
        date=format_date(local, "medium", locale=turn.t.locale),
    )
    lines = [heading, "", origin, field_lines(turn.t, {**item.fields, **edits})]
    if edits:
        changed = ", ".join(field_label(turn.t, field) for field in edits)
        lines += ["", "✏️ " + turn._("You changed: %(fields)s", fields=changed)]
    approve = turn._("Approve with your changes") if edits else turn._("Approve as is")
    rows: list[tuple[Key, ...]] = [
        (Key("✅ " + approve, callback("mod", "approve", item.id)),),
        (Key("✏️ " + turn._("Edit, then approve"), callback("mod", "edit", item.id)),),
        (Key("🚫 " + turn._("Reject"), callback("mod", "reject", item.id)),),
    ]
    if count > 1:
        rows.append((Key("⏭ " + turn._("Next"), callback("mod", "next", item.id)),))
    rows.extend(back_to_menu(turn.t))
    return Message("\n".join(lines), tuple(rows), edit=edit, preview=False)


async def back_to_card(turn: Turn, submission_id: int, *, edit: bool) -> list[Reply]:
    """The review card of a still-pending suggestion."""
    item = await pending(turn, submission_id)
    count = await SubmissionRepository(turn.session).pending_count(moderator_id(turn))
    heading = "🗂 " + turn.ngettext(
        "%(count)s suggestion is waiting for review.",
        "%(count)s suggestions are waiting for review.",
        count,
    )
    return [await review_card(turn, item, heading, count, edit=edit)]


# --- buttons -----------------------------------------------------------------------------------


@router.button("mod")
async def pressed(turn: Turn, args: tuple[str, ...]) -> list[Reply]:
    """mod:<what>:<submission>[:<choice>]: every moderation button; the role is checked now."""
    if not is_moderator(turn):
        return refusal(turn)
    match args:
        case ("queue",):
            return await queue(turn, edit=True)
        case ("next", item) if item.isdigit():
            return await queue(turn, after_id=int(item), edit=True)
        case ("back", item) if item.isdigit():
            return await back_to_card(turn, int(item), edit=True)
        case ("approve", item) if item.isdigit():
            return await choose_category(turn, int(item))
        case ("cat", item, code) if item.isdigit() and code in CATEGORIES:
            return await approve(turn, int(item), code)
        case ("edit", item) if item.isdigit():
            return await choose_field(turn, int(item))
        case ("field", item, field) if item.isdigit() and field in FIELDS:
            return await ask_value(turn, int(item), field)
        case ("reject", item) if item.isdigit():
            return await choose_reason(turn, int(item))
        case ("why", item, code) if item.isdigit() and code in REJECTION_REASONS:
            return await reject(turn, int(item), code)
    raise Expired


def back_row(turn: Turn, submission_id: int) -> tuple[Key, ...]:
    """Back to the review card, keeping any edits."""
    return (Key("⬅️ " + turn._("Back to the suggestion"), callback("mod", "back", submission_id)),)


# --- edit, then approve ------------------------------------------------------------------------


async def choose_field(turn: Turn, submission_id: int) -> list[Reply]:
    """Which field to change."""
    await pending(turn, submission_id)
    flow = await editing_flow(turn, submission_id)
    await FlowRepository(turn.session).advance(flow, CHOOSING)
    keys = [
        Key("✏️ " + field_label(turn.t, field), callback("mod", "field", submission_id, field))
        for field in FIELDS
    ]
    rows = in_rows(keys)
    text = "✏️ " + turn._("Which part do you want to change?")
    return [Message(text, (*rows, back_row(turn, submission_id)), edit=True)]


async def ask_value(turn: Turn, submission_id: int, field: str) -> list[Reply]:
    """The next text the moderator types replaces this field."""
    item = await pending(turn, submission_id)
    flow = await editing_flow(turn, submission_id)
    await FlowRepository(turn.session).advance(flow, field)
    current = {**item.fields, **await edits_for(turn, submission_id)}[field]
    text = (
        "✏️ "
        + turn._("Type the new text for: %(field)s", field=field_label(turn.t, field))
        + "\n\n"
        + turn._("Now: %(value)s", value=current)
    )
    return [Message(text, (back_row(turn, submission_id),), edit=True, preview=False)]


@router.flow(FLOW)
async def typed(turn: Turn, text: str) -> list[Reply]:
    """The moderator's new text for the field they chose, checked like the submitter's."""
    if not is_moderator(turn):
        return refusal(turn)
    flow = await FlowRepository(turn.session).current(moderator_id(turn))
    assert flow is not None
    submission_id = int(flow.data["submission"])
    field = flow.step
    if field not in FIELDS:
        text = "👆 " + turn._("Please use the buttons above.")
        return [Message(text, (back_row(turn, submission_id),))]
    item = await SubmissionRepository(turn.session).get(submission_id)
    if item is None or item.status is not SubmissionStatus.PENDING:
        await FlowRepository(turn.session).end(moderator_id(turn), FLOW)
        notice = "⌛ " + turn._("This suggestion was already decided; your change was not kept.")
        return await queue(turn, edit=False, notice=notice)
    value = tidy(field, text)
    wrong = problem(turn.t, field, value)
    if wrong is not None:
        return [Message("⚠️ " + wrong, (back_row(turn, submission_id),))]
    edits = {**(flow.data.get("edits") or {}), field: value}
    await FlowRepository(turn.session).advance(flow, CHOOSING, edits=edits)
    return await back_to_card(turn, submission_id, edit=False)


# --- approve -----------------------------------------------------------------------------------


async def choose_category(turn: Turn, submission_id: int) -> list[Reply]:
    """Before publishing: the category (Other if unsure)."""
    await pending(turn, submission_id)
    keys = [
        Key(category_label(turn.t, code), callback("mod", "cat", submission_id, code))
        for code in CATEGORIES
    ]
    rows = in_rows(keys)
    text = "🗂 " + turn._("Which category fits best? If you are not sure, choose Other.")
    return [Message(text, (*rows, back_row(turn, submission_id)), edit=True)]


async def approve(turn: Turn, submission_id: int, category: str) -> list[Reply]:
    """Publish it (with the moderator's edits), tell followers and the submitter, log it."""
    item = await pending(turn, submission_id)
    edits = await edits_for(turn, submission_id)
    submissions = SubmissionRepository(turn.session)
    if not await submissions.decide(submission_id, moderator_id(turn), SubmissionStatus.APPROVED):
        raise Expired
    opportunities = OpportunityRepository(turn.session, turn.settings.zone)
    opportunity_id = await publish(
        opportunities, {**item.fields, **edits}, item.locale, category, moderator_id(turn)
    )
    await submissions.link_opportunity(submission_id, opportunity_id)
    details = {
        "submission": submission_id,
        "opportunity": opportunity_id,
        "category": category,
        "edited": sorted(edits),
    }
    await AuditLog(turn.session).record(moderator_id(turn), "submission.approve", details)
    await finish(turn, item)
    notice = "🎉 " + turn._(
        "Published. Followers of the category will be told, "
        "and so will the person who suggested it."
    )
    return [
        Toast(turn._("Published!")),
        *await queue(turn, after_id=submission_id, edit=True, notice=notice),
    ]


# --- reject ------------------------------------------------------------------------------------


async def choose_reason(turn: Turn, submission_id: int) -> list[Reply]:
    """Why it cannot be published; the submitter is told in their language."""
    await pending(turn, submission_id)
    rows = tuple(
        (Key(rejection_reason_label(turn.t, code), callback("mod", "why", submission_id, code)),)
        for code in REJECTION_REASONS
    )
    text = "🚫 " + turn._(
        "Why can't it be published? The person who suggested it will be told, in their language."
    )
    return [Message(text, (*rows, back_row(turn, submission_id)), edit=True)]


async def reject(turn: Turn, submission_id: int, reason: str) -> list[Reply]:
    """Turn it down with a reason code, tell the submitter, log it."""
    item = await pending(turn, submission_id)
    submissions = SubmissionRepository(turn.session)
    decided = await submissions.decide(
        submission_id, moderator_id(turn), SubmissionStatus.REJECTED, reason=reason
    )
    if not decided:
        raise Expired
    await AuditLog(turn.session).record(
        moderator_id(turn), "submission.reject", {"submission": submission_id, "reason": reason}
    )
    await finish(turn, item)
    notice = "🚫 " + turn._("Rejected. The person who suggested it will be told why.")
    return [
        Toast(turn._("Done.")),
        *await queue(turn, after_id=submission_id, edit=True, notice=notice),
    ]


async def finish(turn: Turn, item: SubmissionView) -> None:
    """After a decision: queue the outcome for the submitter and drop the moderator's edits."""
    if item.submitter_id is not None:
        await DeliveryRepository(turn.session).enqueue(
            item.submitter_id,
            "submission",
            {"submission_id": item.id},
            dedupe_key=f"submission:{item.id}",
        )
    flow = await FlowRepository(turn.session).current(moderator_id(turn))
    if flow is not None and flow.name == FLOW and flow.data.get("submission") == item.id:
        await FlowRepository(turn.session).end(moderator_id(turn), FLOW)
