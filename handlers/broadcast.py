"""Admins: compose a broadcast through a stored, guided flow, then send or schedule it.

The steps: the first version (in the admin's language or one they pick, optionally with a photo),
versions in more languages, the audience (everyone or one segment), a preview of exactly what
each language group will get with the counts and the fallbacks, then send now or at a set time.
The admin role is checked again at every step and every button, and every broadcast is logged
in the audit log with its author. Delivery is a durable job (see bot/broadcasts.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.i18n import SHIPPED_LOCALES, native_name
from bot.router import Expired, Router, callback
from bot.turn import Key, Keyboard, Message, Photo, Reply, Toast, Turn
from handlers import broadcast_status
from handlers.announcements import announcement
from handlers.keyboards import back_to_menu, in_rows
from handlers.posting import DATE_PATTERN, digits
from handlers.vocabulary import CATEGORIES, category_label
from storage.audit import AuditLog
from storage.broadcasts import Audience, BroadcastRepository, fallback_locale, pick_version
from storage.flows import FlowRepository
from storage.models import Flow, utcnow
from storage.opportunities import OpportunityRepository

router = Router()

FLOW = "broadcast"
MAX_TEXT = 4096  # one Telegram message
MAX_DAYS = 365
DAY_CHOICES = (7, 30, 90)
MAX_SCHEDULE_AHEAD = timedelta(days=366)
DATE_EXAMPLE = "24/01/2027 15:30"
SEGMENTS = ("all", "locales", "areas", "city", "category", "active", "opportunity")


class NotAdmin(Exception):
    """The user is not (or no longer) an admin."""


def admin_id(turn: Turn) -> int:
    """The admin's user id, checked now; NotAdmin otherwise."""
    if turn.user is None or "admin" not in turn.user.roles:
        raise NotAdmin
    return turn.user.id


def refusal(turn: Turn) -> list[Reply]:
    """What a non-admin gets for /broadcast or a broadcast button: nothing changes."""
    text = "🔒 " + turn._("Only the city and NGO staff can send announcements.")
    return [Message(text, back_to_menu(turn.t))]


def quit_row(turn: Turn) -> tuple[Key, ...]:
    """Leave the flow; nothing is sent."""
    return (Key("✖️ " + turn._("Cancel"), callback("bc", "quit")),)


def back_row(turn: Turn, to: str) -> tuple[Key, ...]:
    """Back to an earlier step."""
    return (Key("⬅️ " + turn._("Back"), callback("bc", to)),)


# --- the questions -----------------------------------------------------------------------------


def texts_of(data: dict[str, Any]) -> dict[str, str]:
    """The versions written so far, locale -> text."""
    return {str(locale): str(text) for locale, text in (data.get("texts") or {}).items()}


def ask_first_text(turn: Turn, data: dict[str, Any]) -> Message:
    """The first version: in the admin's language, or one they choose."""
    text = "✏️ " + turn._(
        "Write the announcement in %(language)s. To add a photo, send the photo with the text "
        "as its caption (or the photo first, then the text).",
        language=native_name(str(data["locale"])),
    )
    if data.get("photo"):
        text += "\n\n🖼 " + turn._("The photo is added.")
    other = Key("🌍 " + turn._("Write it in another language"), callback("bc", "first"))
    return Message(text, ((other,), quit_row(turn)))


def language_picker(turn: Turn, data: dict[str, Any], question: str, back: str) -> Message:
    """Every shipped language; a tick marks those that have a version already."""
    written = texts_of(data)
    keys = [
        Key(("✅ " if code in written else "") + native_name(code), callback("bc", "lang", code))
        for code in SHIPPED_LOCALES
    ]
    return Message(
        "🌍 " + question, (*in_rows(keys), back_row(turn, back), quit_row(turn)), edit=True
    )


def ask_translation(turn: Turn, data: dict[str, Any]) -> Message:
    """Another version, in the language just picked."""
    locale = str(data["locale"])
    text = "✏️ " + turn._("Write the %(language)s version.", language=native_name(locale))
    existing = texts_of(data).get(locale)
    if existing:
        text += "\n\n" + turn._("It replaces the one you wrote before:") + "\n\n" + existing
    return Message(text, (back_row(turn, "texts"), quit_row(turn)), edit=True)


def versions_page(turn: Turn, data: dict[str, Any]) -> Message:
    """The versions so far, and what people without one get."""
    texts = texts_of(data)
    source = str(data["source"])
    fallback = fallback_locale(texts, source, turn.settings.default_locale)
    lines = ["📝 " + turn.ngettext("%(count)s version so far:", "%(count)s versions so far:",
                                   len(texts))]  # fmt: skip
    for locale, text in texts.items():
        size = turn.ngettext("%(count)s character", "%(count)s characters", len(text))
        lines.append(f"• {native_name(locale)} — {size}")
    lines.append(
        turn._(
            "People whose language has no version get the %(language)s one.",
            language=native_name(fallback),
        )
    )
    if data.get("photo"):
        lines.append("🖼 " + turn._("With a photo."))
    rows: list[tuple[Key, ...]] = [
        (Key("➕ " + turn._("Add or change a language"), callback("bc", "add")),)
    ]
    if data.get("photo"):
        rows.append((Key("🗑 " + turn._("Remove the photo"), callback("bc", "nophoto")),))
    rows.append((Key(turn._("Next: who gets it") + " ▶️", callback("bc", "next")),))
    rows.append(quit_row(turn))
    return Message("\n".join(lines), tuple(rows), edit=True)


async def audience_page(turn: Turn) -> Message:
    """Everyone, or one segment."""
    labels = {
        "all": "👥 " + turn._("Everyone"),
        "locales": "🗣 " + turn._("By language"),
        "areas": "📍 " + turn._("By area"),
        "city": "🏙 " + turn._("By city"),
        "category": "🗂 " + turn._("Followers of a category"),
        "active": "🕒 " + turn._("Active recently"),
        "opportunity": "🙋 " + turn._("Signed up to an opportunity"),
    }
    rows = [(Key(label, callback("bc", "aud", kind)),) for kind, label in labels.items()]
    text = "👥 " + turn._(
        "Who should get it? People who turned announcements off or blocked the bot never do."
    )
    return Message(text, (*rows, back_row(turn, "texts"), quit_row(turn)), edit=True)


async def segment_page(turn: Turn, flow: Flow) -> Message:
    """The choices for the segment being set up."""
    data, step = flow.data, flow.step
    picked = {str(item) for item in data.get("picked", [])}
    done = (Key(turn._("Next") + " ▶️", callback("bc", "done")),)
    back = back_row(turn, "audience")
    if step == "aud_locales":
        keys = [
            Key(
                ("✅ " if code in picked else "▫️ ") + native_name(code),
                callback("bc", "tick", code),
            )
            for code in SHIPPED_LOCALES
        ]
        text = "🗣 " + turn._("Which languages? Tick them, then press Next.")
        return Message(text, (*in_rows(keys), done, back), edit=True)
    if step == "aud_areas":
        areas = await OpportunityRepository(turn.session).areas()
        keys = [
            Key(("✅ " if str(area_id) in picked else "▫️ ") + name,
                callback("bc", "tick", area_id))
            for area_id, name in areas
        ]  # fmt: skip
        text = "📍 " + turn._(
            "Which areas? People who chose one of them in their settings get it. "
            "Tick them, then press Next."
        )
        return Message(text, (*in_rows(keys), done, back), edit=True)
    if step == "aud_city":
        cities = await repository(turn).cities()
        keys = [Key(city, callback("bc", "pick", area_id)) for area_id, city in cities]
        text = "🏙 " + turn._("Which city? People with an area of that city in their settings.")
        return Message(text, (*in_rows(keys), back), edit=True)
    if step == "aud_category":
        keys = [
            Key(category_label(turn.t, code), callback("bc", "pick", code)) for code in CATEGORIES
        ]
        text = "🗂 " + turn._("Followers of which category?")
        return Message(text, (*in_rows(keys), back), edit=True)
    if step == "aud_active":
        keys = [
            Key(
                turn.ngettext("%(count)s day", "%(count)s days", days), callback("bc", "pick", days)
            )
            for days in DAY_CHOICES
        ]
        text = "🕒 " + turn._(
            "Active in the last how many days? Pick one, or type a number from 1 to %(max)s.",
            max=MAX_DAYS,
        )
        return Message(text, (tuple(keys), back), edit=True)
    if step == "aud_opportunity":
        found = await repository(turn).opportunities_with_signups()
        titles = await OpportunityRepository(turn.session).titles(
            [item for item, _ in found], turn.t.locale
        )
        keys = [
            Key(f"{titles.get(item, '#' + str(item))[:48]} ({turn.t.format_value(count)})",
                callback("bc", "pick", item))
            for item, count in found
        ]  # fmt: skip
        text = "🙋 " + (
            turn._("People signed up to which opportunity?")
            if keys
            else turn._("Nobody has signed up to an opportunity yet.")
        )
        return Message(text, (*((key,) for key in keys), back), edit=True)
    raise ValueError(step)


def ask_when(turn: Turn) -> Message:
    """The date and time to send at, in the city's time zone."""
    text = "🕒 " + turn._(
        "When should it go out? Type the date and time (%(zone)s time), for example: %(example)s",
        zone=turn.settings.timezone,
        example=DATE_EXAMPLE,
    )
    return Message(text, (back_row(turn, "review"), quit_row(turn)), edit=True)


def repository(turn: Turn) -> BroadcastRepository:
    """The broadcasts repository on the turn's session."""
    return BroadcastRepository(turn.session, turn.settings.default_locale)


# --- the flow ----------------------------------------------------------------------------------


async def open_flow(turn: Turn) -> Flow:
    """The admin's broadcast flow; Expired when there is none."""
    user_id = admin_id(turn)
    flow = await FlowRepository(turn.session).current(user_id)
    if flow is None or flow.name != FLOW:
        raise Expired
    return flow


async def ask(turn: Turn, flow: Flow, step: str, *, edit: bool = True) -> list[Reply]:
    """Move the flow to `step` and ask its question."""
    await FlowRepository(turn.session).advance(flow, step)
    data = flow.data
    match step:
        case "text":
            message = ask_first_text(turn, data)
        case "first_lang":
            message = language_picker(
                turn, data, turn._("In which language do you write it first?"), "restart"
            )
        case "add_lang":
            message = language_picker(
                turn, data, turn._("Which language? A tick means it has a version."), "texts"
            )
        case "translation":
            message = ask_translation(turn, data)
        case "versions":
            message = versions_page(turn, data)
        case "audience":
            message = await audience_page(turn)
        case "preview":
            return await preview(turn, flow)
        case "when":
            message = ask_when(turn)
        case _:
            message = await segment_page(turn, flow)
    return [Message(message.text, message.keyboard, edit=edit and message.edit)]


def problem(turn: Turn, text: str) -> list[Reply]:
    """Say exactly what is wrong; the step stays the same."""
    return [Message("⚠️ " + text, (quit_row(turn),))]


@router.command("broadcast")
async def broadcast_command(turn: Turn) -> list[Reply]:
    """/broadcast: an admin starts a new announcement (and sees the ones still going)."""
    try:
        user_id = admin_id(turn)
    except NotAdmin:
        return refusal(turn)
    flow = await FlowRepository(turn.session).start(
        user_id, FLOW, "text", {"locale": turn.t.locale, "source": turn.t.locale, "texts": {}}
    )
    return [*await open_broadcasts(turn), *await ask(turn, flow, "text", edit=False)]


async def open_broadcasts(turn: Turn) -> list[Reply]:
    """A line per scheduled, sending or paused broadcast, each opening its controls."""
    ids = await repository(turn).open_ids()
    if not ids:
        return []
    keys = [
        (Key(f"📣 #{broadcast_id}", callback("bc", "show", broadcast_id)),) for broadcast_id in ids
    ]
    text = "📋 " + turn.ngettext(
        "%(count)s broadcast is scheduled or still going:",
        "%(count)s broadcasts are scheduled or still going:",
        len(ids),
    )
    return [Message(text, tuple(keys))]


def checked_text(turn: Turn, text: str) -> str | None:
    """What is wrong with an announcement's text, or None."""
    if not text:
        return turn._("The announcement is empty. Please write its text.")
    if len(text) > MAX_TEXT:
        return turn._(
            "That is %(count)s characters long; one message holds at most %(max)s. "
            "Please shorten it.",
            count=len(text),
            max=MAX_TEXT,
        )
    return None


@router.flow(FLOW)
async def typed(turn: Turn, text: str) -> list[Reply]:
    """Text typed during the flow answers the current step."""
    try:
        flow = await open_flow(turn)
    except NotAdmin:
        return refusal(turn)
    text = text.strip()
    flows = FlowRepository(turn.session)
    step = flow.step
    if step in ("text", "translation"):
        wrong = checked_text(turn, text)
        if wrong is not None:
            return problem(turn, wrong)
        locale = str(flow.data["locale"])
        changes: dict[str, object] = {"texts": {**texts_of(flow.data), locale: text}}
        if step == "text":
            changes["source"] = locale
        await flows.advance(flow, step, **changes)
        return await ask(turn, flow, "versions", edit=False)
    if step == "aud_active":
        number = digits(text)
        if not number.isdigit() or not 1 <= int(number) <= MAX_DAYS:
            return problem(
                turn, turn._("Please type a whole number of days from 1 to %(max)s.", max=MAX_DAYS)
            )
        await flows.advance(flow, step, audience=Audience("active", days=int(number)).to_json())
        return await ask(turn, flow, "preview", edit=False)
    if step == "when":
        return await scheduled_time(turn, flow, text)
    return [Message("👆 " + turn._("Please use the buttons above."), (quit_row(turn),))]


@router.photo(FLOW)
async def photo_sent(turn: Turn, photo: Photo) -> list[Reply]:
    """A photo goes with every version; its caption, if any, is the first version's text."""
    try:
        flow = await open_flow(turn)
    except NotAdmin:
        return refusal(turn)
    if flow.step not in ("text", "versions"):
        return problem(
            turn,
            turn._("Photos can be added with the first version only, or on the versions page."),
        )
    await FlowRepository(turn.session).advance(flow, flow.step, photo=photo.file_id)
    caption = photo.caption.strip()
    if flow.step == "text" and caption:
        return await typed(turn, caption)
    if flow.step == "text":
        return await ask(turn, flow, "text", edit=False)
    return await ask(turn, flow, "versions", edit=False)


def scheduled_at(text: str, turn: Turn) -> datetime | None:
    """'24/01/2027 15:30' (or 24.01.2027, or 2027-01-24) in the city's time zone."""
    match = DATE_PATTERN.match(" ".join(digits(text).split()))
    if match is None:
        return None
    year, month, day = (
        (match["y1"], match["m1"], match["d1"])
        if match["y1"]
        else (match["y2"], match["m2"], match["d2"])
    )
    try:
        return datetime(
            int(year), int(month), int(day), int(match["hour"]), int(match["minute"]),
            tzinfo=turn.settings.zone,
        )  # fmt: skip
    except ValueError:
        return None


async def scheduled_time(turn: Turn, flow: Flow, text: str) -> list[Reply]:
    """Check the typed date and time, then ask to confirm it."""
    moment = scheduled_at(text, turn)
    now = utcnow()
    if moment is None:
        return problem(
            turn,
            turn._(
                "I could not read that date. Please write it like this: %(example)s",
                example=DATE_EXAMPLE,
            ),
        )
    if moment <= now:
        return problem(
            turn, turn._("That time has already passed. Please give a time in the future.")
        )
    if moment - now > MAX_SCHEDULE_AHEAD:
        return problem(turn, turn._("Please choose a time within the next year."))
    await FlowRepository(turn.session).advance(flow, "confirm_at", scheduled_at=moment.isoformat())
    total = sum((await repository(turn).readers(audience_of(flow))).values())
    text = "🕒 " + turn.ngettext(
        "Send it to %(count)s person on %(when)s?",
        "Send it to %(count)s people on %(when)s?",
        total,
        when=broadcast_status.when(turn.t, moment, turn.settings.zone),
    )
    note = turn._("The audience is counted again when it starts.")
    keyboard = (
        (Key("✅ " + turn._("Schedule it"), callback("bc", "at")),),
        (Key("✏️ " + turn._("Change the time"), callback("bc", "when")),),
        back_row(turn, "review"),
    )
    return [Message(f"{text}\n{note}", keyboard)]


def audience_of(flow: Flow) -> Audience:
    """The audience chosen in the flow (everyone until one is chosen)."""
    return Audience.from_json(flow.data.get("audience") or {"kind": "all"})


# --- preview, send, schedule -------------------------------------------------------------------


async def describe(turn: Turn, audience: Audience) -> str:
    """The audience in words."""
    match audience.kind:
        case "locales":
            names = ", ".join(native_name(code) for code in audience.locales)
            return turn._("people who read %(languages)s", languages=names)
        case "areas":
            areas = dict(await OpportunityRepository(turn.session).areas())
            names = ", ".join(areas.get(area_id, "?") for area_id in audience.area_ids)
            return turn._("people who can get to %(areas)s", areas=names)
        case "city":
            return turn._("people in %(city)s", city=audience.city)
        case "category":
            return turn._(
                "followers of %(category)s", category=category_label(turn.t, audience.category)
            )
        case "active":
            return turn.ngettext(
                "people active in the last %(count)s day",
                "people active in the last %(count)s days",
                audience.days,
            )
        case "opportunity":
            titles = await OpportunityRepository(turn.session).titles(
                [audience.opportunity_id], turn.t.locale
            )
            title = titles.get(audience.opportunity_id, f"#{audience.opportunity_id}")
            return turn._("people signed up to “%(title)s”", title=title)
    return turn._("everyone")


async def preview(turn: Turn, flow: Flow) -> list[Reply]:
    """Each version exactly as its readers get it, who gets which, and the total."""
    data = flow.data
    texts = texts_of(data)
    fallback = fallback_locale(texts, str(data["source"]), turn.settings.default_locale)
    audience = audience_of(flow)
    readers = await repository(turn).readers(audience)
    by_version: dict[str, int] = {}
    for locale, count in readers.items():
        version = pick_version(texts, fallback, locale)
        by_version[version] = by_version.get(version, 0) + count
    replies: list[Reply] = []
    for version in texts:
        if not by_version.get(version):
            continue
        label = "👁 " + turn.ngettext(
            "The %(language)s version, as %(count)s person will get it:",
            "The %(language)s version, as %(count)s people will get it:",
            by_version[version],
            language=native_name(version),
        )
        replies.append(Message(label))
        replies.append(announcement(turn.catalog.translator(version), texts[version],
                                    data.get("photo")))  # fmt: skip
    unread = [version for version in texts if not by_version.get(version)]
    replies.append(summary(turn, texts, fallback, readers, unread, await describe(turn, audience)))
    return replies


def summary(
    turn: Turn,
    texts: dict[str, str],
    fallback: str,
    readers: dict[str, int],
    unread: list[str],
    audience: str,
) -> Message:
    """The counts per language, the fallbacks, the total; then send, schedule or change."""
    total = sum(readers.values())
    lines = ["📣 " + turn._("Audience: %(audience)s.", audience=audience)]
    for locale, count in sorted(readers.items(), key=lambda item: (-item[1], item[0])):
        if locale in texts:
            lines.append("• " + turn.ngettext(
                "%(language)s: %(count)s person", "%(language)s: %(count)s people", count,
                language=native_name(locale),
            ))  # fmt: skip
        else:
            lines.append("• " + turn.ngettext(
                "%(language)s: %(count)s person will get the %(version)s version",
                "%(language)s: %(count)s people will get the %(version)s version",
                count, language=native_name(locale), version=native_name(fallback),
            ))  # fmt: skip
    if unread:
        names = ", ".join(native_name(locale) for locale in unread)
        lines.append(turn._("Nobody in this audience gets the %(languages)s version.",
                            languages=names))  # fmt: skip
    change = (
        Key("👥 " + turn._("Change the audience"), callback("bc", "audience")),
        Key("✏️ " + turn._("Change the texts"), callback("bc", "texts")),
    )
    if not total:
        lines.append(
            "⚠️ " + turn._("Nobody in this audience can get it. Please choose another audience.")
        )
        return Message("\n".join(lines), (change, quit_row(turn)))
    lines.append(
        "\n" + turn.ngettext("In total: %(count)s person.", "In total: %(count)s people.", total)
    )
    keyboard: Keyboard = (
        (Key("📣 " + turn._("Send now"), callback("bc", "send")),
         Key("🕒 " + turn._("Schedule"), callback("bc", "when"))),
        change,
        quit_row(turn),
    )  # fmt: skip
    return Message("\n".join(lines), keyboard)


async def confirm(turn: Turn, flow: Flow, when: datetime | None) -> list[Reply]:
    """Create the broadcast job (sending now, or scheduled), log it, and close the flow."""
    user_id = admin_id(turn)
    data = flow.data
    texts = texts_of(data)
    audience = audience_of(flow)
    broadcasts = repository(turn)
    readers = await broadcasts.readers(audience)
    if not sum(readers.values()):
        return await ask(turn, flow, "preview", edit=False)
    broadcast_id = await broadcasts.create(
        author_id=user_id,
        texts=texts,
        source_locale=str(data["source"]),
        photo=data.get("photo"),
        audience=audience,
        scheduled_at=when,
    )
    details = {
        "broadcast_id": broadcast_id,
        "audience": audience.to_json(),
        "locales": sorted(texts),
        "photo": bool(data.get("photo")),
        "recipients": sum(readers.values()),
        "scheduled_at": when.isoformat() if when else None,
    }
    action = "broadcast.schedule" if when else "broadcast.send"
    await AuditLog(turn.session).record(user_id, action, details)
    await FlowRepository(turn.session).end(user_id, FLOW)
    if when is None:
        text = "📣 " + turn.ngettext(
            "Broadcast #%(id)s is on its way to %(count)s person. "
            "Its progress follows in a message of its own.",
            "Broadcast #%(id)s is on its way to %(count)s people. "
            "Its progress follows in a message of its own.",
            sum(readers.values()),
            id=broadcast_id,
        )
        return [Toast(turn._("Sending!")), Message(text, back_to_menu(turn.t), edit=True)]
    text = "🕒 " + turn._(
        "Broadcast #%(id)s is scheduled for %(when)s.",
        id=broadcast_id,
        when=broadcast_status.when(turn.t, when, turn.settings.zone),
    )
    keyboard = (
        (Key("✖️ " + turn._("Cancel the broadcast"), callback("bc", "cancel", broadcast_id)),),
        *back_to_menu(turn.t),
    )
    return [Toast(turn._("Scheduled.")), Message(text, keyboard, edit=True)]


# --- the buttons -------------------------------------------------------------------------------


@router.button("bc")
async def pressed(turn: Turn, args: tuple[str, ...]) -> list[Reply]:
    """bc:<what>[:<arg>]: the flow's buttons, and pause/resume/cancel of a broadcast."""
    try:
        admin_id(turn)
        match args:
            case ("show", item) if item.isdigit():
                return await broadcast_status.show(turn, int(item))
            case ("pause" | "resume" | "cancel" | "kill" as what, item) if item.isdigit():
                return await broadcast_status.control(turn, what, int(item))
        return await flow_button(turn, await open_flow(turn), args)
    except NotAdmin:
        return refusal(turn)


async def flow_button(turn: Turn, flow: Flow, args: tuple[str, ...]) -> list[Reply]:
    """A button of the composing flow, valid only at its own step."""
    flows = FlowRepository(turn.session)
    data, step = flow.data, flow.step
    texts = texts_of(data)
    match args:
        case ("quit",):
            await flows.end(flow.user_id, FLOW)
            text = "✖️ " + turn._("Cancelled. Nothing was sent.")
            return [Message(text, back_to_menu(turn.t), edit=True)]
        case ("first",) if step == "text" and not texts:
            return await ask(turn, flow, "first_lang")
        case ("restart",) if step == "first_lang":
            return await ask(turn, flow, "text")
        case ("lang", code) if code in SHIPPED_LOCALES and step == "first_lang":
            await flows.advance(flow, step, locale=code, source=code)
            return await ask(turn, flow, "text")
        case ("lang", code) if code in SHIPPED_LOCALES and step == "add_lang":
            await flows.advance(flow, step, locale=code)
            return await ask(turn, flow, "translation")
        case ("texts",) if texts and step != "versions":
            return await ask(turn, flow, "versions")
        case ("add",) if step == "versions":
            return await ask(turn, flow, "add_lang")
        case ("nophoto",) if step == "versions" and data.get("photo"):
            await flows.advance(flow, step, photo=None)
            return await ask(turn, flow, "versions")
        case ("next",) if step == "versions" and texts:
            return await ask(turn, flow, "audience")
        case ("audience",) if texts and step not in ("text", "first_lang"):
            return await ask(turn, flow, "audience")
        case ("aud", kind) if kind in SEGMENTS and step == "audience":
            if kind == "all":
                await flows.advance(flow, step, audience=Audience().to_json())
                return await ask(turn, flow, "preview", edit=False)
            await flows.advance(flow, step, picked=[])
            return await ask(turn, flow, f"aud_{kind}")
        case ("tick", item) if step in ("aud_locales", "aud_areas"):
            return await tick(turn, flow, item)
        case ("done",) if step in ("aud_locales", "aud_areas"):
            picked = [str(item) for item in data.get("picked", [])]
            if not picked:
                return [Toast(turn._("Please tick at least one."))]
            audience = (
                Audience("locales", locales=tuple(picked))
                if step == "aud_locales"
                else Audience("areas", area_ids=tuple(int(item) for item in picked))
            )
            await flows.advance(flow, step, audience=audience.to_json())
            return await ask(turn, flow, "preview", edit=False)
        case ("pick", item) if step.startswith("aud_"):
            audience = await picked_audience(turn, step, item)
            if audience is None:
                raise Expired
            await flows.advance(flow, step, audience=audience.to_json())
            return await ask(turn, flow, "preview", edit=False)
        case ("review",) if step in ("when", "confirm_at"):
            return await ask(turn, flow, "preview", edit=False)
        case ("when",) if step in ("preview", "confirm_at"):
            return await ask(turn, flow, "when")
        case ("send",) if step == "preview":
            return await confirm(turn, flow, None)
        case ("at",) if step == "confirm_at" and data.get("scheduled_at"):
            when = datetime.fromisoformat(str(data["scheduled_at"]))
            if when <= utcnow():
                return problem(
                    turn, turn._("That time has already passed. Please give a time in the future.")
                )
            return await confirm(turn, flow, when)
    raise Expired


async def tick(turn: Turn, flow: Flow, item: str) -> list[Reply]:
    """Tick or untick a language or an area."""
    if flow.step == "aud_locales":
        valid = item in SHIPPED_LOCALES
    else:
        valid = item.isdigit() and await OpportunityRepository(turn.session).area_name(int(item))
    if not valid:
        raise Expired
    picked = {str(value) for value in flow.data.get("picked", [])} ^ {item}
    await FlowRepository(turn.session).advance(flow, flow.step, picked=sorted(picked))
    return await ask(turn, flow, flow.step)


async def picked_audience(turn: Turn, step: str, item: str) -> Audience | None:
    """The segment a pick button stands for, checked; None if it is not valid."""
    if step == "aud_city" and item.isdigit():
        city = await repository(turn).city_of_area(int(item))
        return Audience("city", city=city) if city else None
    if step == "aud_category" and item in CATEGORIES:
        return Audience("category", category=item)
    if step == "aud_active" and item.isdigit() and 1 <= int(item) <= MAX_DAYS:
        return Audience("active", days=int(item))
    if step == "aud_opportunity" and item.isdigit():
        signups = await OpportunityRepository(turn.session).signup_count(int(item))
        return Audience("opportunity", opportunity_id=int(item)) if signups else None
    return None
