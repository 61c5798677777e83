"""How far word of mouth went: a person's own reach, and staff's figures with a chart.

Nobody is named: people are counts, and sharers appear as pseudonymous codes unless they chose
to be thanked by name (volunteer awards).
"""

from __future__ import annotations

from datetime import timedelta

from babel.dates import format_date

from bot.i18n import native_name
from bot.router import Expired, Router, callback
from bot.turn import Key, Message, Picture, Reply, Toast, Turn
from handlers.keyboards import back_to_menu
from handlers.roles import is_admin
from handlers.services import service_text
from storage.models import utcnow
from storage.opportunities import OpportunityRepository
from storage.pseudonyms import Pseudonyms
from storage.referrals import CardReach, ReferralRepository, Sharer
from storage.services import ServiceRepository

router = Router()

WEEKS = 8
MAX_PUBLIC_NAME = 64


def sharer_label(sharer: Sharer, codes: Pseudonyms) -> str:
    """The name a sharer chose to be thanked by, else a code that reveals no account."""
    return sharer.public_name or codes.of_account(sharer.channel, sharer.channel_user_id)


async def my_reach(turn: Turn, *, edit: bool = False) -> list[Reply]:
    """What this person's sharing did, in numbers only, and the choice to be named to staff."""
    if turn.user is None:
        raise Expired
    reach = await ReferralRepository(turn.session).my_reach(turn.user.id)
    people = turn.ngettext(
        "Your shares brought %(count)s person to Passaparola.",
        "Your shares brought %(count)s people to Passaparola.",
        reach.brought,
    )
    joined = turn.ngettext(
        "%(count)s of them signed up for something.",
        "%(count)s of them signed up for something.",
        reach.signed_up,
    )
    lines = ["📊 " + people, joined, "", turn._("Only numbers are shown here, never names.")]
    if turn.user.public_name:
        lines.append(
            "🏅 "
            + turn._(
                "Staff may thank you by name (%(name)s) in the volunteer awards.",
                name=turn.user.public_name,
            )
        )
        toggle = Key(turn._("Don't show my name to staff"), callback("reach", "anon"))
    else:
        toggle = Key("🏅 " + turn._("Let staff thank me by name"), callback("reach", "named"))
    keyboard = ((toggle,), *back_to_menu(turn.t))
    return [Message("\n".join(lines), keyboard, edit=edit)]


async def staff_figures(turn: Turn) -> list[Reply]:
    """Per card: shares, opens, newcomers, sign-ups and chain depth; languages; top sharers."""
    referrals = ReferralRepository(turn.session)
    cards = await referrals.card_reach()
    lines = ["📊 " + turn._("Word of mouth: the most opened cards")]
    keys = []
    for card in cards:
        title = await _title(turn, card)
        lines += ["", f"• {turn.t.isolate(title)}", "   " + _figures_line(turn, card)]
        keys.append((Key(title[:40], callback("reach", card.kind, card.item_id)),))
    if not cards:
        lines += ["", turn._("Nothing has been shared yet.")]
    languages = await referrals.reach_by_language()
    if languages:
        lines += [
            "",
            "🗣 " + turn._("People reached, by language:"),
            _languages_line(turn, languages),
        ]
    sharers = await referrals.top_sharers()
    if sharers:
        codes = await Pseudonyms.load(turn.session)
        named = ", ".join(
            turn._(
                "%(who)s (%(count)s)", who=turn.t.isolate(sharer_label(s, codes)), count=s.brought
            )
            for s in sharers
        )
        lines += ["", "🏅 " + turn._("Top sharers, by people brought: %(list)s", list=named)]
    weekly = await referrals.weekly(WEEKS)
    now = utcnow()
    starts = [(now - timedelta(weeks=WEEKS - week)).date() for week in range(WEEKS)]
    first_week = format_date(starts[0], "medium", locale=turn.t.locale)
    caption = turn._(
        "Left: shares (blue) and new people (orange) per week, for %(weeks)s weeks from the "
        "week of %(date)s. Right: people reached per language.",
        weeks=WEEKS,
        date=first_week,
    )
    from handlers.charts import reach_chart  # matplotlib: 0.35 s and ~30 MiB, only for staff

    chart = reach_chart(starts, weekly, languages)
    return [
        Message("\n".join(lines), (*keys, *back_to_menu(turn.t))),
        Picture("passaparola-reach.png", chart, caption),
    ]


async def card_details(turn: Turn, kind: str, item_id: int) -> list[Reply]:
    """One card's figures, with its reach per language."""
    referrals = ReferralRepository(turn.session)
    found = await referrals.card_reach(only=(kind, item_id))
    if not found:
        raise Expired
    [card] = found
    languages = await referrals.reach_by_language(kind, item_id)
    text = "\n".join(
        (
            "📊 " + turn.t.isolate(await _title(turn, card)),
            _figures_line(turn, card),
            "",
            "🗣 " + turn._("People reached, by language:"),
            _languages_line(turn, languages),
        )
    )
    back = ((Key("⬅️ " + turn._("Back"), callback("reach", "staff")),),)
    return [Message(text, back, edit=True)]


def _figures_line(turn: Turn, card: CardReach) -> str:
    return turn._(
        "shared %(shares)s · opened %(opens)s · new people %(new)s · signed up %(signups)s · "
        "longest chain %(depth)s",
        shares=card.shares,
        opens=card.opens,
        new=card.new_users,
        signups=card.signups,
        depth=card.depth,
    )


def _languages_line(turn: Turn, languages: list[tuple[str, int]]) -> str:
    return " · ".join(
        f"{native_name(locale) if locale else '?'} {turn.t.format_value(count)}"
        for locale, count in languages
    )


async def _title(turn: Turn, card: CardReach) -> str:
    """The card's title in the reader's language (or its source language)."""
    if card.kind == "o":
        titles = await OpportunityRepository(turn.session).titles([card.item_id], turn.t.locale)
        return titles.get(card.item_id, "?")
    service = await ServiceRepository(turn.session).get(card.item_id)
    if service is None:
        return "?"
    return service_text(turn.t, service, "name")[1]


@router.command("reach")
async def reach_command(turn: Turn) -> list[Reply]:
    """/reach: how far my sharing went; for admins, the figures for every card too."""
    replies = await my_reach(turn)
    if is_admin(turn):
        replies += await staff_figures(turn)
    return replies


@router.button("reach")
async def reach_button(turn: Turn, args: tuple[str, ...]) -> list[Reply]:
    """reach:me, reach:named, reach:anon for all; reach:staff, reach:<o or s>:<id> for admins."""
    match args:
        case ("me",):
            return await my_reach(turn, edit=True)
        case ("named",) if turn.user is not None:
            turn.user.public_name = (turn.sender.first_name or "").strip()[:MAX_PUBLIC_NAME] or None
            return [Toast(turn._("Thank you!")), *await my_reach(turn, edit=True)]
        case ("anon",) if turn.user is not None:
            turn.user.public_name = None
            return [Toast(turn._("Done.")), *await my_reach(turn, edit=True)]
        case ("staff",) if is_admin(turn):
            return await staff_figures(turn)
        case (("o" | "s") as kind, item) if item.isdigit() and is_admin(turn):
            return await card_details(turn, kind, int(item))
    raise Expired
