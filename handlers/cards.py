"""Opportunity cards: pure functions of the card's values, the translator and the city's zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time, get_day_names

from bot.i18n import Translator, native_name
from handlers.vocabulary import category_label, skill_label
from storage.models import Schedule
from storage.opportunities import OpportunityCard


def language_name_in(code: str, reader: str) -> str:
    """A language's name in the reader's language, e.g. 'Italian' for an English reader."""
    return Locale.parse(code).get_display_name(reader) or native_name(code)


def when_text(
    t: Translator,
    schedule: Schedule,
    starts_at: datetime | None,
    weekdays: tuple[int, ...],
    start_time: str,
    zone: ZoneInfo,
) -> str:
    """When it happens, formatted by Babel in the reader's locale and the city's time zone."""
    if schedule is Schedule.ONCE and starts_at is not None:
        local = starts_at.astimezone(zone)
        return t._(
            "%(date)s at %(time)s",
            date=format_date(local, "full", locale=t.locale),
            time=format_time(local, "short", locale=t.locale),
        )
    if schedule is Schedule.WEEKLY and weekdays:
        names = get_day_names("wide", locale=t.locale)
        days = ", ".join(names[day] for day in weekdays)
        hour, minute = (int(part) for part in start_time.split(":"))
        time = format_time(datetime(2000, 1, 1, hour, minute), "short", locale=t.locale)
        return t._("Every week: %(days)s at %(time)s", days=days, time=time)
    return t._("Flexible: whenever suits you")


def card_text(t: Translator, card: OpportunityCard, zone: ZoneInfo) -> str:
    """The card: title and description in the reader's language (or the source, marked)."""
    text_locale, (title, description, how_to_join) = card.text(t.locale)
    lines = [f"{category_label(t, card.category)}", "", f"📌 {title}"]
    if description:
        lines += ["", description]
    if text_locale != t.locale:
        lines += ["", t._("(in %(language)s)", language=language_name_in(text_locale, t.locale))]
    lines.append("")
    lines.append("🏢 " + t._("Organisation: %(name)s", name=card.organisation))
    place = ", ".join(part for part in (card.area, card.address) if part)
    lines.append("📍 " + t._("Where: %(place)s", place=place))
    when = when_text(t, card.schedule, card.starts_at, card.weekdays, card.start_time, zone)
    lines.append("🕒 " + t._("When: %(when)s", when=when))
    if card.languages:
        spoken = ", ".join(native_name(code) for code in card.languages)
        lines.append("🗣 " + t._("Languages spoken: %(languages)s", languages=spoken))
    if card.skills:
        skills = ", ".join(skill_label(t, code) for code in card.skills)
        lines.append("🧰 " + t._("Skills that help: %(skills)s", skills=skills))
    if card.min_age:
        lines.append("🎂 " + t._("Minimum age: %(age)s", age=card.min_age))
    if card.capacity is not None:
        left = max(card.capacity - card.signups, 0)
        lines.append(
            "👥 " + t.ngettext("%(count)s place left", "%(count)s places left", left)
            if left
            else "👥 " + t._("Full at the moment")
        )
    if how_to_join:
        lines.append("✍️ " + t._("How to join: %(how)s", how=how_to_join))
    if card.contact:
        lines.append("☎️ " + t._("Contact: %(contact)s", contact=card.contact))
    return "\n".join(lines)
