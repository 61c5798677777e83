"""Volunteer: categories, lists with filters, search, cards, sign-ups, follows and "for me"."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import timedelta

from bot.router import Expired, Router, callback
from bot.turn import Command, Key, Message, Reply, Toast, Turn
from handlers.cards import card_text
from handlers.keyboards import back_to_menu, in_rows
from handlers.share_buttons import share_keys
from handlers.vocabulary import CATEGORIES, SKILLS, category_label, skill_label
from storage.deliveries import DeliveryRepository
from storage.flows import FlowRepository
from storage.models import Schedule, utcnow
from storage.opportunities import WHEN_FILTERS, Filters, OpportunityRepository, Page
from storage.search import SearchIndex

router = Router()

FLOW = "volunteer"  # while open, typed text searches opportunities
MAX_QUERY_LENGTH = 200
REMINDER_BEFORE_HOURS = 24
VIEW_PATTERN = re.compile(r"^(?P<list>[a-z]+)-(?P<page>\d{1,3})(?P<filters>(-[a-z][a-z0-9_]*)*)$")
LISTS = frozenset({*CATEGORIES, "all", "q", "me", "my"})


@dataclass(frozen=True)
class View:
    """Which list the user is looking at: a category (or all, search, for me, my sign-ups)."""

    list: str
    page: int = 0
    filters: Filters = field(default_factory=Filters)

    def encode(self) -> str:
        """Compact, callback-safe: 'education-0-a3-l-scooking-wweekend'."""
        parts = [self.list, str(self.page)]
        if self.filters.area_id is not None:
            parts.append(f"a{self.filters.area_id}")
        if self.filters.my_language:
            parts.append("l")
        if self.filters.skill is not None:
            parts.append(f"s{self.filters.skill}")
        if self.filters.when is not None:
            parts.append(f"w{self.filters.when}")
        return "-".join(parts)

    @classmethod
    def decode(cls, token: str) -> View:
        """Parse a view from untrusted callback data; Expired when it is not one of ours."""
        match = VIEW_PATTERN.match(token)
        if match is None or match["list"] not in LISTS:
            raise Expired
        filters = Filters()
        for part in match["filters"].split("-")[1:]:
            kind, value = part[0], part[1:]
            if kind == "a" and value.isdigit():
                filters = replace(filters, area_id=int(value))
            elif kind == "l" and not value:
                filters = replace(filters, my_language=True)
            elif kind == "s" and value in SKILLS:
                filters = replace(filters, skill=value)
            elif kind == "w" and value in WHEN_FILTERS:
                filters = replace(filters, when=value)
            else:
                raise Expired
        return cls(match["list"], int(match["page"]), filters)

    def at(self, page: int) -> View:
        """The same list on another page."""
        return replace(self, page=page)

    def filtered(self, **changes: object) -> View:
        """The same list from page one, with filters changed."""
        return replace(self, page=0, filters=replace(self.filters, **changes))


def repository(turn: Turn) -> OpportunityRepository:
    """Opportunities, in the city's time zone."""
    return OpportunityRepository(turn.session, turn.settings.zone)


def require_user(turn: Turn) -> int:
    """The user's id; volunteer buttons are only for people who finished onboarding."""
    if turn.user is None:
        raise Expired
    return turn.user.id


# --- home: categories ------------------------------------------------------------------------


async def home(turn: Turn, *, edit: bool = True) -> list[Reply]:
    """Categories with their counts of open opportunities; typing now searches."""
    user_id = require_user(turn)
    await FlowRepository(turn.session).start(user_id, FLOW, "browse", {})
    counts = await repository(turn).category_counts()
    keys = [
        Key(f"{category_label(turn.t, code)} ({turn.t.format_value(counts[code])})",
            callback("vol", "list", View(code).encode()))
        for code in CATEGORIES if counts.get(code)
    ]  # fmt: skip
    rows: list[tuple[Key, ...]] = in_rows(keys)
    total = sum(counts.values())
    rows.insert(
        0, (Key("🌐 " + turn._("All (%(count)s)", count=total), callback("vol", "list", "all-0")),)
    )
    rows.append(
        (
            Key("⭐ " + turn._("For me"), callback("vol", "list", "me-0")),
            Key("📋 " + turn._("My sign-ups"), callback("vol", "list", "my-0")),
        )
    )
    rows.append((Key("💡 " + turn._("Tell us about an opportunity"), callback("sub", "new")),))
    rows.extend(back_to_menu(turn.t))
    text = "🤝 " + turn._(
        "Volunteering is a great way to meet people and learn the language. "
        "Choose a category, or type what you are looking for (for example: cooking, children)."
    )
    return [Message(text, tuple(rows), edit=edit)]


# --- lists -----------------------------------------------------------------------------------


async def show_list(turn: Turn, view: View, *, edit: bool = True) -> list[Reply]:
    """One page of a list, what filters are on, and buttons to page, filter and follow."""
    user_id = require_user(turn)
    opportunities = repository(turn)
    locale = turn.t.locale
    if view.list == "me":
        page = await opportunities.for_me(user_id, locale, view.page)
        if not page.extra.get("has_profile"):
            return [no_profile(turn)]
        heading = "⭐ " + turn._("Suggested for you, from your skills, areas and language")
    elif view.list == "my":
        entries = await opportunities.my_signups(user_id, locale)
        page = Page(entries, 0, 1, len(entries))
        heading = "📋 " + turn._("Your sign-ups")
    elif view.list == "q":
        flow = await FlowRepository(turn.session).current(user_id)
        query = str(flow.data.get("query", "")) if flow and flow.name == FLOW else ""
        if not query:
            raise Expired
        with turn.timed_search("opportunity"):
            hits = await SearchIndex(turn.session).search("opportunity", query, locale, limit=50)
        ids = [hit.item_id for hit in hits]
        page = await opportunities.browse(None, view.filters, locale, view.page, ids=ids)
        heading = "🔎 " + turn._("Results for “%(query)s”", query=query)
    else:
        category = None if view.list == "all" else view.list
        page = await opportunities.browse(category, view.filters, locale, view.page)
        heading = (
            category_label(turn.t, view.list) if category else "🌐 " + turn._("All opportunities")
        )
    lines = [heading, turn.ngettext("%(count)s opportunity", "%(count)s opportunities", page.total)]
    if view.list not in ("me", "my"):
        lines.append(await filters_line(turn, view.filters))
    if page.pages > 1:
        lines.append(turn._("Page %(page)s of %(pages)s", page=page.page + 1, pages=page.pages))
    if not page.entries:
        lines.append("")
        lines.append(empty_text(turn, view))
    rows: list[tuple[Key, ...]] = [
        (
            Key(
                f"{entry.title[:60]}",
                callback("vol", "card", entry.id, view.at(page.page).encode()),
            ),
        )
        for entry in page.entries
    ]
    pager = []
    if page.page > 0:
        pager.append(
            Key("◀️ " + turn._("Previous"), callback("vol", "list", view.at(page.page - 1).encode()))
        )
    if page.page + 1 < page.pages:
        pager.append(
            Key(turn._("Next") + " ▶️", callback("vol", "list", view.at(page.page + 1).encode()))
        )
    if pager:
        rows.append(tuple(pager))
    tools = []
    if view.list not in ("me", "my"):
        tools.append(Key("🎚 " + turn._("Filters"), callback("vol", "filters", view.encode())))
    if view.list in CATEGORIES:
        following = await opportunities.follows(user_id, view.list, view.filters.area_id)
        label = "🔕 " + turn._("Stop following") if following else "🔔 " + turn._("Follow")
        tools.append(Key(label, callback("vol", "follow", view.encode())))
    if tools:
        rows.append(tuple(tools))
    rows.append((Key("⬅️ " + turn._("Categories"), callback("vol", "home")),))
    return [Message("\n".join(lines), tuple(rows), edit=edit)]


async def filters_line(turn: Turn, filters: Filters) -> str:
    """Which filters are on, in words."""
    if not filters.active:
        return turn._("No filters on.")
    parts = []
    if filters.area_id is not None:
        parts.append("📍 " + (await repository(turn).area_name(filters.area_id) or "?"))
    if filters.my_language:
        parts.append("🗣 " + turn._("Speaks my language"))
    if filters.skill is not None:
        parts.append("🧰 " + skill_label(turn.t, filters.skill))
    if filters.when is not None:
        parts.append("🕒 " + when_label(turn, filters.when))
    return turn._("Filters on: %(filters)s", filters=" · ".join(parts))


def when_label(turn: Turn, when: str) -> str:
    """A time filter's name."""
    labels = {
        "week": turn._("This week"),
        "weekend": turn._("At the weekend"),
        "evening": turn._("Evenings"),
    }
    return labels[when]


def empty_text(turn: Turn, view: View) -> str:
    """What to do when a list is empty."""
    if view.list == "my":
        return turn._("You have not signed up for anything yet.")
    if view.filters.active:
        return turn._("Nothing matches all these filters. Try removing one.")
    return turn._(
        "Nothing here right now. Press Follow and we will tell you when something new comes."
    )


def no_profile(turn: Turn) -> Message:
    """'For me' needs skills or areas first."""
    text = "⭐ " + turn._(
        "Tell me your skills and the areas you can reach, and I will suggest opportunities "
        "that fit you."
    )
    keyboard = (
        (Key("🧰 " + turn._("My skills"), callback("prefs", "skills")),),
        (Key("📍 " + turn._("My areas"), callback("prefs", "areas")),),
        (Key("⬅️ " + turn._("Categories"), callback("vol", "home")),),
    )
    return Message(text, keyboard, edit=True)


# --- filters ---------------------------------------------------------------------------------


async def filters_panel(turn: Turn, view: View) -> list[Reply]:
    """Turn each filter on or off; the list comes back from its first page."""
    filters = view.filters
    on, off = "✅ ", "▫️ "
    language = view.filtered(my_language=not filters.my_language).encode()
    rows: list[tuple[Key, ...]] = [
        (
            Key(("📍 " if filters.area_id is None else on) + turn._("Area"),
                callback("vol", "areas", view.encode())),
            Key(("🧰 " if filters.skill is None else on) + turn._("Skill"),
                callback("vol", "skills", view.encode())),
        ),
        (Key((on if filters.my_language else off) + turn._("Speaks my language"),
             callback("vol", "list", language)),),
    ]  # fmt: skip
    rows.append(
        tuple(
            Key(
                (on if filters.when == when else off) + when_label(turn, when),
                callback(
                    "vol",
                    "list",
                    view.filtered(when=None if filters.when == when else when).encode(),
                ),
            )
            for when in WHEN_FILTERS
        )
    )
    if filters.active:
        rows.append(
            (
                Key(
                    "✖️ " + turn._("Clear all filters"),
                    callback(
                        "vol",
                        "list",
                        view.filtered(
                            area_id=None, my_language=False, skill=None, when=None
                        ).encode(),
                    ),
                ),
            )
        )
    rows.append((Key("⬅️ " + turn._("Back to the list"), callback("vol", "list", view.encode())),))
    text = "🎚 " + turn._("Filters") + "\n" + await filters_line(turn, filters)
    return [Message(text, tuple(rows), edit=True)]


async def area_picker(turn: Turn, view: View) -> list[Reply]:
    """Choose one area (or any)."""
    areas = await repository(turn).areas()
    keys = [
        Key(("✅ " if view.filters.area_id == area_id else "") + name,
            callback("vol", "list", view.filtered(area_id=area_id).encode()))
        for area_id, name in areas
    ]  # fmt: skip
    rows = in_rows(keys)
    rows.append(
        (Key(turn._("Any area"), callback("vol", "list", view.filtered(area_id=None).encode())),)
    )
    return [Message("📍 " + turn._("Which area?"), tuple(rows), edit=True)]


async def skill_picker(turn: Turn, view: View) -> list[Reply]:
    """Choose one skill (or any)."""
    keys = [
        Key(("✅ " if view.filters.skill == code else "") + skill_label(turn.t, code),
            callback("vol", "list", view.filtered(skill=code).encode()))
        for code in SKILLS
    ]  # fmt: skip
    rows = in_rows(keys)
    rows.append(
        (Key(turn._("Any skill"), callback("vol", "list", view.filtered(skill=None).encode())),)
    )
    return [Message("🧰 " + turn._("Which skill would you like to use?"), tuple(rows), edit=True)]


async def toggle_follow(turn: Turn, view: View) -> list[Reply]:
    """Follow (or stop following) this category, in the chosen area if one is set."""
    user_id = require_user(turn)
    if view.list not in CATEGORIES:
        raise Expired
    opportunities = repository(turn)
    area_id = view.filters.area_id
    if area_id is not None and await opportunities.area_name(area_id) is None:
        raise Expired
    if await opportunities.follows(user_id, view.list, area_id):
        await opportunities.unfollow(user_id, view.list, area_id)
        toast = turn._("You will no longer get new opportunities from here.")
    else:
        await opportunities.follow(user_id, view.list, area_id)
        toast = turn._(
            "Done! You will get new opportunities from here as soon as they are published."
        )
    return [Toast(toast), *await show_list(turn, view)]


# --- cards and sign-ups ----------------------------------------------------------------------


async def show_card(
    turn: Turn, opportunity_id: int, back: str, *, edit: bool = True
) -> list[Reply]:
    """An opportunity's card with I'm interested (or withdraw), Share and Back."""
    user_id = require_user(turn)
    opportunities = repository(turn)
    card = await opportunities.card(opportunity_id)
    if card is None or not await opportunities.is_open(opportunity_id):
        return [gone(turn, back)]
    signup = await opportunities.signup_of(opportunity_id, user_id)
    rows: list[tuple[Key, ...]] = []
    if signup is not None and signup.withdrawn_at is None:
        rows.append(
            (Key("↩️ " + turn._("I can't come any more"), callback("vol", "leave", card.id, back)),)
        )
    elif not card.full:
        rows.append(
            (Key("🙋 " + turn._("I'm interested"), callback("vol", "join", card.id, back)),)
        )
    rows.append(await share_keys(turn, "o", card.id))
    rows.append(
        (
            Key(
                "⬅️ " + turn._("Back"),
                callback("vol", "list", back) if back != "home" else callback("vol", "home"),
            ),
        )
    )
    text = card_text(turn.t, card, turn.settings.zone)
    if signup is not None and signup.withdrawn_at is None:
        text = "✅ " + turn._("You are signed up.") + "\n\n" + text
    return [Message(text, tuple(rows), edit=edit)]


def gone(turn: Turn, back: str) -> Message:
    """The opportunity was closed, expired or removed."""
    text = "⌛ " + turn._("This opportunity is no longer open. Have a look at the others!")
    target = callback("vol", "list", back) if back != "home" else callback("vol", "home")
    return Message(text, ((Key("⬅️ " + turn._("Back"), target),),), edit=True)


async def ask_to_share_details(turn: Turn, opportunity_id: int, back: str) -> list[Reply]:
    """Before signing up: may we pass the first name and Telegram contact to the organisation?"""
    require_user(turn)
    card = await repository(turn).card(opportunity_id)
    if card is None or not await repository(turn).is_open(opportunity_id):
        return [gone(turn, back)]
    text = "🙋 " + turn._(
        "To sign you up, we will give %(organisation)s your first name (%(name)s) and a link "
        "to write to you on Telegram, so they can tell you how to start. Nothing else. "
        "Is that okay?",
        organisation=card.organisation,
        name=turn.sender.first_name or "—",
    )
    keyboard = (
        (Key("✅ " + turn._("Yes, sign me up"), callback("vol", "yes", card.id, back)),),
        (Key(turn._("No, go back"), callback("vol", "card", card.id, back)),),
    )
    return [Message(text, keyboard, edit=True)]


def telegram_contact(turn: Turn) -> str:
    """How the organisation can write to the user: @username, else a link to their account."""
    if turn.sender.username:
        return "@" + turn.sender.username
    return f"tg://user?id={turn.sender.user_id}"


async def sign_up(turn: Turn, opportunity_id: int, back: str) -> list[Reply]:
    """Record the sign-up, tell the coordinators, and schedule the reminder."""
    user_id = require_user(turn)
    opportunities = repository(turn)
    card = await opportunities.card(opportunity_id)
    if card is None or not await opportunities.is_open(opportunity_id):
        return [gone(turn, back)]
    existing = await opportunities.signup_of(opportunity_id, user_id)
    if existing is not None and existing.withdrawn_at is None:
        return await show_card(turn, opportunity_id, back)
    if card.full:
        return [
            Toast(turn._("Sorry, it is full now.")),
            *await show_card(turn, opportunity_id, back),
        ]
    name = (turn.sender.first_name or "—")[:100]
    signup = await opportunities.sign_up(opportunity_id, user_id, name, telegram_contact(turn))
    deliveries = DeliveryRepository(turn.session)
    stamp = int(signup.created_at.timestamp())
    for coordinator in await opportunities.coordinators(card.organisation_id):
        await deliveries.enqueue(
            coordinator,
            "signup",
            {"signup_id": signup.id, "zone": turn.settings.timezone},
            dedupe_key=f"signup:{signup.id}:{stamp}:{coordinator}",
        )
    reminder = ""
    if card.schedule is Schedule.ONCE and card.starts_at is not None:
        due = card.starts_at - timedelta(hours=REMINDER_BEFORE_HOURS)
        if due > utcnow():
            await deliveries.enqueue(
                user_id,
                "reminder",
                {"signup_id": signup.id, "zone": turn.settings.timezone},
                dedupe_key=reminder_key(signup.id, stamp),
                due_at=due,
            )
            reminder = " " + turn._("I will remind you the day before.")
    _, (title, _, _) = card.text(turn.t.locale)
    done = "🎉 " + turn._(
        "You are signed up for “%(title)s”! %(organisation)s will contact you soon.",
        title=title,
        organisation=card.organisation,
    )
    return [
        Toast(turn._("Signed up!")),
        Message(done + reminder),
        *await show_card(turn, opportunity_id, back),
    ]


def reminder_key(signup_id: int, stamp: int) -> str:
    """One reminder per sign-up (a renewed sign-up gets a new one)."""
    return f"reminder:{signup_id}:{stamp}"


async def withdraw(turn: Turn, opportunity_id: int, back: str) -> list[Reply]:
    """The user can't come any more: withdraw, cancel the reminder, tell the coordinators."""
    user_id = require_user(turn)
    opportunities = repository(turn)
    signup = await opportunities.signup_of(opportunity_id, user_id)
    if signup is None or signup.withdrawn_at is not None:
        raise Expired
    stamp = int(signup.created_at.timestamp())
    await opportunities.withdraw(signup)
    deliveries = DeliveryRepository(turn.session)
    await deliveries.cancel(reminder_key(signup.id, stamp))
    card = await opportunities.card(opportunity_id)
    if card is not None:
        for coordinator in await opportunities.coordinators(card.organisation_id):
            await deliveries.enqueue(
                coordinator,
                "withdrawal",
                {"signup_id": signup.id, "zone": turn.settings.timezone},
                dedupe_key=f"withdrawal:{signup.id}:{stamp}:{coordinator}",
            )
    return [
        Toast(turn._("Okay, you are no longer signed up.")),
        *await show_card(turn, opportunity_id, back),
    ]


# --- search ----------------------------------------------------------------------------------


async def search(turn: Turn, query: str) -> list[Reply]:
    """Search opportunities in the user's language (other languages rank after)."""
    user_id = require_user(turn)
    query = " ".join(query.split())
    if not query:
        text = "🔎 " + turn._(
            "What are you looking for? Type a few words, for example: cooking, children."
        )
        await FlowRepository(turn.session).start(user_id, FLOW, "browse", {})
        return [Message(text, back_to_menu(turn.t))]
    if len(query) > MAX_QUERY_LENGTH:
        text = "✂️ " + turn.ngettext(
            "Please use at most %(count)s character.",
            "Please use at most %(count)s characters.",
            MAX_QUERY_LENGTH,
        )
        return [Message(text, back_to_menu(turn.t))]
    await FlowRepository(turn.session).start(user_id, FLOW, "browse", {"query": query})
    return await show_list(turn, View("q"), edit=False)


@router.command("find")
async def find_command(turn: Turn) -> list[Reply]:
    """/find TEXT: search opportunities."""
    event_input = turn.event.input
    return await search(turn, event_input.args if isinstance(event_input, Command) else "")


@router.flow(FLOW)
async def typed_while_browsing(turn: Turn, text: str) -> list[Reply]:
    """Typing while in Volunteer searches."""
    return await search(turn, text)


@router.command("volunteer")
async def volunteer_command(turn: Turn) -> list[Reply]:
    """/volunteer: the categories."""
    return await home(turn, edit=False)


@router.button("vol")
async def volunteer_button(turn: Turn, args: tuple[str, ...]) -> list[Reply]:
    """vol:<what>:...: every button of the volunteering pages."""
    match args:
        case ("home",):
            return await home(turn)
        case ("list", view):
            return await show_list(turn, View.decode(view))
        case ("filters", view):
            return await filters_panel(turn, View.decode(view))
        case ("areas", view):
            return await area_picker(turn, View.decode(view))
        case ("skills", view):
            return await skill_picker(turn, View.decode(view))
        case ("follow", view):
            return await toggle_follow(turn, View.decode(view))
        case ("card", item, back) if item.isdigit():
            return await show_card(turn, int(item), checked_back(back))
        case ("join", item, back) if item.isdigit():
            return await ask_to_share_details(turn, int(item), checked_back(back))
        case ("yes", item, back) if item.isdigit():
            return await sign_up(turn, int(item), checked_back(back))
        case ("leave", item, back) if item.isdigit():
            return await withdraw(turn, int(item), checked_back(back))
    raise Expired


def checked_back(back: str) -> str:
    """Where Back leads: a list view, or home."""
    if back != "home":
        View.decode(back)
    return back
