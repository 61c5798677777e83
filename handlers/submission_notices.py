"""How the outcome of a suggestion reads to the person who sent it, in their own language.

Rendered at send time from the submission's id, so the moderator's language never leaks in.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator
from bot.router import callback
from bot.turn import Key, Keyboard, Message
from handlers.notifications import renders
from handlers.vocabulary import REJECTION_REASONS, rejection_reason_label
from storage.models import SubmissionStatus, User
from storage.opportunities import OpportunityRepository
from storage.submissions import SubmissionRepository


def suggest_again(t: Translator) -> tuple[Key, ...]:
    """A button to suggest another opportunity."""
    return (Key("💡 " + t._("Suggest another opportunity"), callback("sub", "new")),)


@renders("suggestion")
async def new_suggestion(
    session: AsyncSession, t: Translator, user: User, payload: dict[str, Any]
) -> Message | None:
    """Moderators hear that a suggestion waits (nothing about who sent it); None once all done."""
    waiting = await SubmissionRepository(session).pending_count(user.id)
    if not waiting or not ({"moderator", "admin"} & set(user.roles)):
        return None
    text = "💡 " + t.ngettext(
        "%(count)s suggestion is waiting for review.",
        "%(count)s suggestions are waiting for review.",
        waiting,
    )
    return Message(text, ((Key("🔎 " + t._("Review"), callback("mod", "queue")),),))


@renders("submission")
async def submission_outcome(
    session: AsyncSession, t: Translator, user: User, payload: dict[str, Any]
) -> Message | None:
    """Approved (with a button to the card) or rejected (with the reason); None while pending."""
    item = await SubmissionRepository(session).get(int(payload["submission_id"]))
    if item is None or item.submitter_id != user.id:
        return None
    title = item.fields["title"]
    if item.status is SubmissionStatus.APPROVED:
        text = "🎉 " + t._(
            "Thank you! The opportunity you told us about, “%(title)s”, is published now. "
            "People can find it and sign up.",
            title=title,
        )
        keyboard: Keyboard = (suggest_again(t),)
        opportunity_id = item.opportunity_id
        if opportunity_id is not None and await OpportunityRepository(session).is_open(
            opportunity_id
        ):
            open_card = Key("🔎 " + t._("Open"), callback("vol", "card", opportunity_id, "home"))
            keyboard = ((open_card,), *keyboard)
        return Message(text, keyboard, preview=False)
    if item.status is SubmissionStatus.REJECTED:
        text = "🙏 " + t._(
            "Thank you for telling us about “%(title)s”. Our team could not publish it.",
            title=title,
        )
        if item.reason is not None and item.reason in REJECTION_REASONS:
            reason = rejection_reason_label(t, item.reason)
            text += " " + t._("The reason: %(reason)s.", reason=reason)
        return Message(text, (suggest_again(t),), preview=False)
    return None
