"""Services: browse by category, then a card with the details, hours, a map link and sharing."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from babel.dates import format_time, get_day_names

from bot.i18n import Translator, native_name
from bot.router import Expired, Router, callback
from bot.turn import Key, Message, Reply, Turn
from handlers.cards import language_name_in
from handlers.keyboards import back_to_menu, in_rows
from handlers.share_buttons import share_keys
from handlers.vocabulary import SERVICE_CATEGORIES, service_category_label
from storage.models import Service
from storage.services import ServiceRepository

router = Router()

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


async def home(turn: Turn, *, edit: bool = True) -> list[Reply]:
    """Service categories with how many services each has."""
    counts = await ServiceRepository(turn.session).category_counts()
    keys = [
        Key(f"{service_category_label(turn.t, code)} ({turn.t.format_value(counts[code])})",
            callback("svc", "cat", code))
        for code in SERVICE_CATEGORIES if counts.get(code)
    ]  # fmt: skip
    rows = in_rows(keys)
    text = "🏛 " + turn._("Local services: offices, clinics, legal help, shelters, schools. Choose:")
    return [Message(text, (*rows, *back_to_menu(turn.t)), edit=edit)]


def service_text(t: Translator, service: Service, field: str) -> tuple[str, str]:
    """A text field in the reader's language, else the source: (locale it is in, text)."""
    for locale in (t.locale, service.source_locale, *service.texts):
        value = service.texts.get(locale, {}).get(field, "")
        if value:
            return locale, value
    return t.locale, ""


async def category(turn: Turn, code: str) -> list[Reply]:
    """The services of one category."""
    services = await ServiceRepository(turn.session).in_category(code)
    rows = [
        (
            Key(
                service_text(turn.t, service, "name")[1][:60],
                callback("svc", "show", service.id, code),
            ),
        )
        for service in services
    ]
    rows.append((Key("⬅️ " + turn._("Categories"), callback("svc", "home")),))
    return [Message(service_category_label(turn.t, code), tuple(rows), edit=True)]


def hours_lines(t: Translator, hours: list[dict[str, object]]) -> list[str]:
    """Opening hours, day names and times formatted by Babel in the reader's locale."""
    names = get_day_names("abbreviated", locale=t.locale)
    lines = []
    for slot in hours:
        days = ", ".join(names[WEEKDAYS.index(str(day))] for day in slot["days"])  # type: ignore[attr-defined]
        opens, closes = (_time(t, str(slot[key])) for key in ("open", "close"))
        lines.append(
            "   " + t._("%(days)s: %(opens)s–%(closes)s", days=days, opens=opens, closes=closes)
        )
    return lines


def _time(t: Translator, hh_mm: str) -> str:
    hour, minute = (int(part) for part in hh_mm.split(":"))
    return format_time(datetime(2000, 1, 1, hour, minute), "short", locale=t.locale)


def service_card(turn: Turn, service: Service) -> str:
    """Everything a person needs to go there: what, for whom, where, when, how to reach them."""
    t = turn.t
    name_locale, name = service_text(t, service, "name")
    lines = [service_category_label(t, service.category), "", f"🏛 {name}"]
    text_locale, description = service_text(t, service, "description")
    if description:
        lines += ["", description]
    if text_locale != t.locale or name_locale != t.locale:
        lines += ["", t._("(in %(language)s)", language=language_name_in(text_locale, t.locale))]
    lines.append("")
    _, for_whom = service_text(t, service, "for_whom")
    if for_whom:
        lines.append("👥 " + t._("For: %(who)s", who=for_whom))
    if service.free:
        lines.append("🆓 " + t._("Free of charge"))
    if service.address:
        lines.append("📍 " + t._("Address: %(address)s", address=service.address))
    if service.hours:
        lines.append("🕒 " + t._("Opening hours:"))
        lines += hours_lines(t, service.hours)
    if service.phone:
        lines.append("📞 " + t._("Phone: %(phone)s", phone=service.phone))
    if service.languages:
        spoken = ", ".join(native_name(code) for code in service.languages)
        lines.append("🗣 " + t._("Languages spoken: %(languages)s", languages=spoken))
    return "\n".join(lines)


async def show(turn: Turn, service_id: int, back: str, *, edit: bool = True) -> list[Reply]:
    """A service's card with map, website, share and back buttons."""
    service = await ServiceRepository(turn.session).get(service_id)
    if service is None:
        raise Expired
    rows: list[tuple[Key, ...]] = []
    links = []
    if service.address:
        map_url = "https://www.openstreetmap.org/search?" + urlencode({"query": service.address})
        links.append(Key("🗺 " + turn._("Open map"), url=map_url))
    if service.website:
        links.append(Key("🌐 " + turn._("Website"), url=service.website))
    if links:
        rows.append(tuple(links))
    rows.append(await share_keys(turn, "s", service.id))
    target = callback("svc", "cat", back) if back in SERVICE_CATEGORIES else callback("svc", "home")
    rows.append((Key("⬅️ " + turn._("Back"), target),))
    return [Message(service_card(turn, service), tuple(rows), edit=edit)]


@router.command("services")
async def services_command(turn: Turn) -> list[Reply]:
    """/services: the service categories."""
    return await home(turn, edit=False)


@router.button("svc")
async def services_button(turn: Turn, args: tuple[str, ...]) -> list[Reply]:
    """svc:home / svc:cat:<code> / svc:show:<id>:<category>."""
    match args:
        case ("home",):
            return await home(turn)
        case ("cat", code) if code in SERVICE_CATEGORIES:
            return await category(turn, code)
        case ("show", item, back) if item.isdigit():
            return await show(turn, int(item), back)
    raise Expired
