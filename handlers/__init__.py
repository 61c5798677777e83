"""The conversation: gates for new users, then one router per feature."""

from __future__ import annotations

from bot.router import Callback, Expired, Router, parse_callback
from bot.turn import (
    Button,
    Command,
    InlineChosen,
    InlineQuery,
    Membership,
    Photo,
    Reply,
    Text,
    Turn,
    Unsupported,
)
from handlers import (
    announcements,
    broadcast,
    fallback,
    help,
    menu,
    moderation,
    notices,
    onboarding,
    organisation,
    posting,
    privacy,
    questions,
    reach,
    roles,
    services,
    settings,
    sharing,
    submission_notices,
    suggest,
    volunteer,
)
from storage.flows import FlowRepository

router = Router()
router.include(
    announcements.router,
    broadcast.router,
    help.router,
    menu.router,
    moderation.router,
    onboarding.router,
    organisation.router,
    posting.router,
    privacy.router,
    questions.router,
    reach.router,
    roles.router,
    services.router,
    settings.router,
    sharing.router,
    suggest.router,
    volunteer.router,
)
# notices and submission_notices register how queued notifications are rendered
__all__ = ["notices", "respond", "submission_notices"]

# What someone who has not accepted the privacy notice yet may still do.
BEFORE_CONSENT_COMMANDS = frozenset({"language", "help", "privacy", "forget", "mydata"})
BEFORE_CONSENT_BUTTONS = frozenset({"lang", "consent", "forget"})


async def respond(turn: Turn) -> list[Reply]:
    """Answer one event: onboarding first, then the feature that owns the input."""
    match turn.event.input:
        case Membership(joined=joined):
            return await membership_changed(turn, joined)
        case InlineQuery(query=query):  # in any chat, before or after onboarding
            return await sharing.inline_query(turn, query)
        case InlineChosen(result_id=result_id):
            return await sharing.inline_chosen(turn, result_id)
    if not turn.sender.is_private:
        return await fallback.group_chat(turn)
    event_input = turn.event.input
    button = parse_callback(event_input.data) if isinstance(event_input, Button) else None
    if isinstance(event_input, Button) and button is None:
        return await fallback.expired(turn)

    if turn.user is None:
        if button is None:
            return await onboarding.ask_language(turn)
        if button.action != "lang":
            return await fallback.expired(turn)

    elif turn.user.consented_at is None:
        allowed = (button is not None and button.action in BEFORE_CONSENT_BUTTONS) or (
            isinstance(event_input, Command) and event_input.name in BEFORE_CONSENT_COMMANDS
        )
        if not allowed:
            return await onboarding.ask_consent(turn)

    if button is not None:
        return await _press(turn, button)
    match event_input:
        case Command(name=name):
            handler = router.commands.get(name)
            if handler is None:
                return await fallback.unknown_command(turn, name)
            return await handler(turn)
        case Unsupported(kind=kind):
            return await fallback.unsupported(turn, kind)
        case Photo() if turn.user is not None:
            flow = await FlowRepository(turn.session).current(turn.user.id)
            handler = router.photos.get(flow.name) if flow is not None else None
            if handler is not None:
                return await handler(turn, event_input)
            return await fallback.unsupported(turn, "photo")
        case Text(text=text) if turn.user is not None:
            flow = await FlowRepository(turn.session).current(turn.user.id)
            handler = router.flows.get(flow.name) if flow is not None else None
            if handler is not None:
                return await handler(turn, text)
    return await fallback.not_understood(turn)


async def _press(turn: Turn, button: Callback) -> list[Reply]:
    handler = router.buttons.get(button.action)
    if handler is None:
        return await fallback.expired(turn)
    try:
        return await handler(turn, button.args)
    except Expired:
        return await fallback.expired(turn)


async def membership_changed(turn: Turn, joined: bool) -> list[Reply]:
    """A user blocked us (stop writing) or came back; in a group, introduce ourselves once."""
    if not turn.sender.is_private:
        return await fallback.group_chat(turn) if joined else []
    if turn.user is not None and not joined:
        await turn.users.mark_stopped(turn.user)
    return []
