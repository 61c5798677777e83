"""Word of mouth: cards travel into any chat (inline mode or a link), and links open them.

A shared card carries the sharer's random referral code. Whoever opens it sees the card in
their own language; a newcomer who arrives that way is credited to the sharer, once.
"""

from __future__ import annotations

import io

import segno

from bot.router import Router, callback
from bot.turn import InlineCard, InlineResults, Key, Keyboard, Message, Picture, Reply, Turn
from handlers import services, volunteer
from handlers.cards import card_text
from handlers.keyboards import back_to_menu, main_menu
from handlers.links import INVITE, Link, deep_link, parse_link, share_url
from handlers.share_buttons import consented, link_for
from storage.opportunities import OpportunityRepository
from storage.referrals import ReferralRepository
from storage.search import SearchIndex
from storage.services import ServiceRepository

router = Router()

MAX_INLINE_QUERY = 64  # Telegram allows 256; nobody types more than a few words here
MAX_INLINE_RESULTS = 10
INLINE_CACHE_SECONDS = 120  # results hold the typer's language and code: personal, briefly kept
QR_SCALE, QR_BORDER = 12, 4  # about 500 px for a short link: sharp on an A4 poster


# --- opening a link --------------------------------------------------------------------------


async def open_link(turn: Turn, link: Link, *, new_user: bool) -> list[Reply]:
    """Show what the link points to, count the open, and credit the sharer of a newcomer."""
    assert turn.user is not None
    referrals = ReferralRepository(turn.session)
    referrer = await referrals.by_code(link.code) if link.code else None
    if referrer is not None and referrer.id == turn.user.id:
        referrer = None  # opening one's own link counts for nothing
    if referrer is not None and new_user:
        await referrals.attribute(turn.user, referrer, link.kind, link.item_id)
    if link.kind == INVITE:
        text = "👋 " + turn._("Welcome! A friend invited you to Passaparola.")
        return [Message(text + "\n\n" + turn._("What would you like to do?"), main_menu(turn.t))]
    assert link.item_id is not None
    if not await _is_available(turn, link.kind, link.item_id):
        text = "⌛ " + turn._("What this link pointed to is no longer available.")
        return [Message(text + "\n\n" + turn._("What would you like to do?"), main_menu(turn.t))]
    await referrals.record_open(turn.user, link.kind, link.item_id, referrer, new_user=new_user)
    if link.kind == "s":
        return await services.show(turn, link.item_id, "home", edit=False)
    return await volunteer.show_card(turn, link.item_id, "home", edit=False)


async def _is_available(turn: Turn, kind: str, item_id: int) -> bool:
    """The card still exists (and an opportunity is still open)."""
    if kind == "s":
        return await ServiceRepository(turn.session).get(item_id) is not None
    return await OpportunityRepository(turn.session, turn.settings.zone).is_open(item_id)


# --- inline mode -----------------------------------------------------------------------------


async def inline_query(turn: Turn, query: str) -> list[Reply]:
    """`@bot words` anywhere: matching cards in the typer's language, ready to post."""
    query = " ".join(query.split())[:MAX_INLINE_QUERY]
    wanted = parse_link(query)
    if wanted is not None and wanted.kind != INVITE and wanted.item_id is not None:
        picks = [(wanted.kind, wanted.item_id)]
    elif query:
        picks = await _search(turn, query)
    else:
        picks = [("o", item) for item in await _newest(turn)]
    cards = [card for kind, item in picks if (card := await _inline_card(turn, kind, item))]
    if not query or wanted is None:
        cards.insert(0, await _invite_card(turn))
    start = None if consented(turn) else ("🤝 " + turn._("Open Passaparola"), "inline")
    return [
        InlineResults(
            tuple(cards[:MAX_INLINE_RESULTS]),
            personal=True,
            cache_seconds=INLINE_CACHE_SECONDS,
            start=start,
        )
    ]


async def inline_chosen(turn: Turn, result_id: str) -> list[Reply]:
    """Someone posted one of our cards into a chat: count the share."""
    user = consented(turn)
    link = parse_link(result_id)
    if user is not None and link is not None:
        await ReferralRepository(turn.session).record_share(user.id, link.kind, link.item_id)
    return []


async def _search(turn: Turn, query: str) -> list[tuple[str, int]]:
    """Open opportunities first, then services, best matches first."""
    index = SearchIndex(turn.session)
    locale = turn.t.locale
    with turn.timed_search("opportunity"):
        opportunities = await index.search("opportunity", query, locale, limit=MAX_INLINE_RESULTS)
    found = [("o", hit.item_id) for hit in opportunities]
    with turn.timed_search("service"):
        services_found = await index.search("service", query, locale, limit=MAX_INLINE_RESULTS)
    return found + [("s", hit.item_id) for hit in services_found]


async def _newest(turn: Turn) -> list[int]:
    """The most recently published open opportunities."""
    return await OpportunityRepository(turn.session, turn.settings.zone).newest(limit=5)


async def _inline_card(turn: Turn, kind: str, item_id: int) -> InlineCard | None:
    """A card for inline results, or None when it is gone or closed."""
    link = await link_for(turn, kind, item_id)
    if kind == "o":
        opportunities = OpportunityRepository(turn.session, turn.settings.zone)
        card = await opportunities.card(item_id)
        if card is None or not await opportunities.is_open(item_id):
            return None
        _, (title, _description, _join) = card.text(turn.t.locale)
        body = card_text(turn.t, card, turn.settings.zone)
        summary = ", ".join(part for part in (card.organisation, card.area) if part)
    else:
        service = await ServiceRepository(turn.session).get(item_id)
        if service is None:
            return None
        title = services.service_text(turn.t, service, "name")[1]
        body = services.service_card(turn, service)
        summary = service.address or ""
    return InlineCard(
        result_id=Link(kind, item_id, None).payload,
        title=title[:100],
        description=summary[:100],
        text=_with_link(turn, body, link),
        keyboard=open_in_bot(turn, link),
    )


async def _invite_card(turn: Turn) -> InlineCard:
    """Passaparola itself, for a friend who could use it."""
    link = await link_for(turn, INVITE, None)
    text = "🤝 " + turn._("Passaparola helps newcomers find volunteering and local services.")
    return InlineCard(
        result_id="i",
        title="Passaparola",
        description=turn._("Invite a friend to Passaparola"),
        text=_with_link(turn, text, link),
        keyboard=open_in_bot(turn, link),
    )


def _with_link(turn: Turn, body: str, link: Link) -> str:
    """The card's text with its link written out, so a forwarded copy still leads to the bot."""
    url = deep_link(turn.event.bot_url, link)
    return body + "\n\n" + "👉 " + turn._("Open in Passaparola: %(link)s", link=url)


def open_in_bot(turn: Turn, link: Link) -> Keyboard:
    """The button under a shared card: it opens the card in the bot, in the reader's language."""
    url = deep_link(turn.event.bot_url, link)
    return ((Key("🤝 " + turn._("Open in Passaparola"), url=url),),)


# --- inviting to the bot ---------------------------------------------------------------------


def qr_png(url: str) -> bytes:
    """A QR code for `url` as a PNG, ready to print."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=QR_SCALE, border=QR_BORDER)
    return buffer.getvalue()


async def invite(turn: Turn, *, edit: bool = False) -> list[Reply]:
    """A personal invite link, a button to pass it on, and a QR code for a poster."""
    link = deep_link(turn.event.bot_url, await link_for(turn, INVITE, None))
    invitation = turn._("Passaparola helps newcomers find volunteering and local services.")
    text = "📣 " + turn._(
        "Know someone who could use Passaparola? Send them this link: %(link)s", link=link
    )
    keyboard = (
        (Key("📤 " + turn._("Share with a friend"), inline_query=""),),
        (Key("🔗 " + turn._("Send the link"), url=share_url(link, invitation)),),
        (Key("📊 " + turn._("How far my sharing reached"), callback("reach", "me")),),
        *back_to_menu(turn.t),
    )
    caption = turn._("Print this QR code for a poster: scanning it opens Passaparola.")
    return [
        Message(text, keyboard, edit=edit),
        Picture("passaparola-invite.png", qr_png(link), caption),
    ]


@router.command("invite")
async def invite_command(turn: Turn) -> list[Reply]:
    """/invite: a personal invite link and its QR code."""
    return await invite(turn)
