"""Settings: language, my skills, my areas, announcements, privacy notice, deleting one's data."""

from __future__ import annotations

from bot.i18n import native_name
from bot.router import Expired, Router, callback
from bot.turn import Key, Message, Reply, Turn
from handlers.keyboards import back_to_menu, in_rows
from handlers.vocabulary import SKILLS, skill_label
from storage.opportunities import OpportunityRepository

router = Router()


async def show_settings(turn: Turn, *, edit: bool = False) -> list[Reply]:
    """The settings page, naming the current language and counting skills and areas."""
    language = native_name(turn.t.locale)
    skills = areas = 0
    if turn.user is not None:
        profile = OpportunityRepository(turn.session)
        skills = len(await profile.user_skills(turn.user.id))
        areas = len(await profile.user_areas(turn.user.id))
    keyboard = (
        (
            Key(
                "🌍 " + turn._("Language: %(language)s", language=language),
                callback("lang", "pick"),
            ),
        ),
        (Key("🧰 " + turn._("My skills (%(count)s)", count=skills), callback("prefs", "skills")),),
        (Key("📍 " + turn._("My areas (%(count)s)", count=areas), callback("prefs", "areas")),),
        announcements_row(turn),
        (Key("🔒 " + turn._("Privacy notice"), callback("privacy", "show")),),
        (Key("🗑 " + turn._("Delete my data"), callback("forget", "ask")),),
        *back_to_menu(turn.t),
    )
    return [Message("⚙️ " + turn._("Settings"), keyboard, edit=edit)]


def announcements_row(turn: Turn) -> tuple[Key, ...]:
    """Staff announcements on or off; a press switches (handled in handlers.announcements)."""
    if turn.user is not None and turn.user.muted:
        return (Key("🔕 " + turn._("Announcements: off"), callback("mute", "off", "set")),)
    return (Key("🔔 " + turn._("Announcements: on"), callback("mute", "on", "set")),)


async def skills_page(turn: Turn, user_id: int) -> list[Reply]:
    """Every skill, ticked when the user offers it; a press toggles it."""
    mine = await OpportunityRepository(turn.session).user_skills(user_id)
    keys = [
        Key(("✅ " if code in mine else "▫️ ") + skill_label(turn.t, code),
            callback("prefs", "skill", code))
        for code in SKILLS
    ]  # fmt: skip
    rows = in_rows(keys)
    rows.append(done_row(turn))
    text = "🧰 " + turn._(
        "What are you good at? Tick everything that fits; I use it to suggest opportunities."
    )
    return [Message(text, tuple(rows), edit=True)]


async def areas_page(turn: Turn, user_id: int) -> list[Reply]:
    """Every area of the city, ticked when the user can get there."""
    profile = OpportunityRepository(turn.session)
    mine = await profile.user_areas(user_id)
    keys = [
        Key(("✅ " if area_id in mine else "▫️ ") + name, callback("prefs", "area", area_id))
        for area_id, name in await profile.areas()
    ]
    rows = in_rows(keys)
    rows.append(done_row(turn))
    text = "📍 " + turn._("Which areas of the city can you get to? Tick all that fit.")
    return [Message(text, tuple(rows), edit=True)]


def done_row(turn: Turn) -> tuple[Key, ...]:
    """Back to settings, or straight to suggestions."""
    return (
        Key("⭐ " + turn._("Show suggestions"), callback("vol", "list", "me-0")),
        Key("✅ " + turn._("Done"), callback("prefs", "done")),
    )


@router.button("prefs")
async def preferences(turn: Turn, args: tuple[str, ...]) -> list[Reply]:
    """prefs:skills / prefs:skill:<code> / prefs:areas / prefs:area:<id> / prefs:done."""
    if turn.user is None:
        raise Expired
    profile = OpportunityRepository(turn.session)
    match args:
        case ("skills",):
            return await skills_page(turn, turn.user.id)
        case ("skill", code) if code in SKILLS:
            await profile.toggle_skill(turn.user.id, code)
            return await skills_page(turn, turn.user.id)
        case ("areas",):
            return await areas_page(turn, turn.user.id)
        case ("area", area) if area.isdigit() and await profile.area_name(int(area)):
            await profile.toggle_area(turn.user.id, int(area))
            return await areas_page(turn, turn.user.id)
        case ("done",):
            return await show_settings(turn, edit=True)
    raise Expired
