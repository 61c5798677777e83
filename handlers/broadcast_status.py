"""A broadcast's progress and final report as staff see them, and its pause, resume and cancel.

The texts are pure functions of the translator and the broadcast's numbers, so the handlers (on a
button press) and the progress reporter (editing the author's message every few seconds) show
exactly the same thing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time, format_timedelta

from bot.i18n import Translator
from bot.router import Expired, callback
from bot.turn import Key, Keyboard, Message, Reply, Toast, Turn
from storage.audit import AuditLog
from storage.broadcasts import BroadcastRepository, BroadcastView
from storage.models import BroadcastStatus, utcnow

BAR_WIDTH = 10


def when(t: Translator, moment: datetime, zone: ZoneInfo) -> str:
    """A date and time in the city's time zone, formatted by Babel in the reader's locale."""
    local = moment.astimezone(zone)
    return t._(
        "%(date)s at %(time)s",
        date=format_date(local, "full", locale=t.locale),
        time=format_time(local, "short", locale=t.locale),
    )


def progress_bar(done: int, total: int) -> str:
    """▓▓▓▓░░░░░░ 40%"""
    share = done / total if total else 1.0
    filled = min(BAR_WIDTH, int(share * BAR_WIDTH))
    return "▓" * filled + "░" * (BAR_WIDTH - filled) + f" {int(share * 100)}%"


def status_text(t: Translator, view: BroadcastView, now: datetime, zone: ZoneInfo) -> str:
    """Where the broadcast stands: its state, a progress bar, the counts and the time left."""
    lines = [heading(t, view, now, zone)]
    if view.started_at is None:
        return "\n".join(lines)
    counts = view.counts
    done = counts.total - counts.queued
    lines += [
        "",
        progress_bar(done, counts.total),
        t._(
            "Sent: %(sent)s · Failed: %(failed)s · Blocked the bot: %(blocked)s",
            sent=counts.sent,
            failed=counts.failed,
            blocked=counts.blocked,
        ),
        t.ngettext(
            "Out of %(count)s person in the audience.",
            "Out of %(count)s people in the audience.",
            counts.total,
        ),
    ]
    if counts.cancelled:
        lines.append(
            t.ngettext(
                "%(count)s message was not sent.",
                "%(count)s messages were not sent.",
                counts.cancelled,
            )
        )
    if view.status is BroadcastStatus.SENDING:
        if not view.fanout_done:
            lines.append(t._("Still adding recipients…"))
        lines.append(time_left(t, view, now))
    elif view.status is BroadcastStatus.DONE:
        took = (view.finished_at or now) - view.started_at
        lines.append(t._("It took %(time)s.", time=duration(t, took)))
    return "\n".join(lines)


def heading(t: Translator, view: BroadcastView, now: datetime, zone: ZoneInfo) -> str:
    """One line: which broadcast, and its state."""
    match view.status:
        case BroadcastStatus.SCHEDULED:
            moment = when(t, view.scheduled_at or now, zone)
            return "🕒 " + t._(
                "Broadcast #%(id)s is scheduled for %(when)s.", id=view.id, when=moment
            )
        case BroadcastStatus.SENDING:
            return "📣 " + t._("Broadcast #%(id)s is being sent.", id=view.id)
        case BroadcastStatus.PAUSED:
            return "⏸ " + t._(
                "Broadcast #%(id)s is paused. Nobody else gets it until you resume.", id=view.id
            )
        case BroadcastStatus.CANCELLED:
            return "✖️ " + t._("Broadcast #%(id)s was cancelled.", id=view.id)
        case BroadcastStatus.DONE:
            return "✅ " + t._("Broadcast #%(id)s is finished.", id=view.id)
    return "📝 " + t._("Broadcast #%(id)s is a draft.", id=view.id)


AUDIT_ACTIONS = {
    "pause": "broadcast.pause",
    "resume": "broadcast.resume",
    "kill": "broadcast.cancel",
}


def time_left(t: Translator, view: BroadcastView, now: datetime) -> str:
    """An estimate from the pace so far."""
    counts = view.counts
    done = counts.total - counts.queued
    elapsed = (now - view.started_at).total_seconds() if view.started_at else 0.0
    if done <= 0 or elapsed <= 0:
        return t._("Estimating the time left…")
    seconds = counts.queued * elapsed / done
    return t._("About %(time)s left.", time=duration(t, timedelta(seconds=seconds)))


def duration(t: Translator, span: timedelta) -> str:
    """'3 minutes', '12 seconds', in the reader's language."""
    return format_timedelta(max(span, timedelta(seconds=1)), threshold=1.5, locale=t.locale)


def controls(t: Translator, view: BroadcastView) -> Keyboard:
    """Pause, resume, cancel and refresh, as the broadcast's state allows."""
    pause = Key("⏸ " + t._("Pause"), callback("bc", "pause", view.id))
    resume = Key("▶️ " + t._("Resume"), callback("bc", "resume", view.id))
    cancel = Key("✖️ " + t._("Cancel the broadcast"), callback("bc", "cancel", view.id))
    refresh = Key("🔄 " + t._("Refresh"), callback("bc", "show", view.id))
    match view.status:
        case BroadcastStatus.SENDING:
            return ((pause, cancel), (refresh,))
        case BroadcastStatus.PAUSED:
            return ((resume, cancel), (refresh,))
        case BroadcastStatus.SCHEDULED:
            return ((cancel,),)
    return ()


def status_message(
    t: Translator, view: BroadcastView, now: datetime, zone: ZoneInfo, *, edit: bool
) -> Message:
    """The status text with the buttons that fit it."""
    return Message(status_text(t, view, now, zone), controls(t, view), edit=edit)


# --- the buttons (the caller has checked that the user is an admin) ----------------------------


async def current(turn: Turn, broadcast_id: int) -> BroadcastView:
    """The broadcast with fresh counts; Expired when there is no such broadcast."""
    repository = BroadcastRepository(turn.session, turn.settings.default_locale)
    view = await repository.view(broadcast_id, with_counts=True)
    if view is None:
        raise Expired
    return view


async def show(turn: Turn, broadcast_id: int) -> list[Reply]:
    """bc:show:<id>: the broadcast's status and controls."""
    view = await current(turn, broadcast_id)
    return [status_message(turn.t, view, utcnow(), turn.settings.zone, edit=True)]


async def control(turn: Turn, what: str, broadcast_id: int) -> list[Reply]:
    """bc:pause / bc:resume / bc:cancel (asks first) / bc:kill (cancels) for one broadcast."""
    assert turn.user is not None
    repository = BroadcastRepository(turn.session, turn.settings.default_locale)
    view = await current(turn, broadcast_id)
    if what == "cancel":
        return ask_to_cancel(turn, view)
    now = utcnow()
    if what == "pause":
        changed = await repository.pause(broadcast_id)
        notice = turn._("Paused.")
    elif what == "resume":
        changed = await repository.resume(broadcast_id, now)
        notice = turn._("Sending again.")
    elif what == "kill":
        changed = await repository.cancel(broadcast_id) is not None
        notice = turn._("Cancelled. Nobody else will get it.")
    else:
        raise Expired
    if not changed:
        return [Toast(turn._("It has already changed; here is where it stands.")),
                *await show(turn, broadcast_id)]  # fmt: skip
    details = {"broadcast_id": broadcast_id}
    await AuditLog(turn.session).record(turn.user.id, AUDIT_ACTIONS[what], details)
    view = await current(turn, broadcast_id)
    return [Toast(notice), status_message(turn.t, view, now, turn.settings.zone, edit=True)]


def ask_to_cancel(turn: Turn, view: BroadcastView) -> list[Reply]:
    """Cancelling cannot be undone: say what it means, and ask."""
    if view.status not in (
        BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING, BroadcastStatus.PAUSED
    ):  # fmt: skip
        return [Toast(turn._("It has already ended.")),
                status_message(turn.t, view, utcnow(), turn.settings.zone, edit=True)]  # fmt: skip
    if view.status is BroadcastStatus.SCHEDULED:
        text = turn._("Cancel broadcast #%(id)s? Nobody will get it.", id=view.id)
    else:
        text = turn.ngettext(
            "Cancel broadcast #%(id)s? %(count)s person has not received it yet and will not.",
            "Cancel broadcast #%(id)s? %(count)s people have not received it yet and will not.",
            view.counts.queued,
            id=view.id,
        )
    keyboard = (
        (Key("✖️ " + turn._("Yes, cancel it"), callback("bc", "kill", view.id)),),
        (Key("⬅️ " + turn._("No, go back"), callback("bc", "show", view.id)),),
    )
    return [Message("❓ " + text, keyboard, edit=True)]
