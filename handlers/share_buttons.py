"""The Share buttons under every card, and the referral-carrying links behind them."""

from __future__ import annotations

from bot.turn import Key, Turn
from handlers.links import Link, deep_link, share_url
from storage.models import User
from storage.referrals import ReferralRepository


def consented(turn: Turn) -> User | None:
    """The person, if they agreed to the privacy notice (only then do we keep their code)."""
    user = turn.user
    return user if user is not None and user.consented_at is not None else None


async def link_for(turn: Turn, kind: str, item_id: int | None) -> Link:
    """A link to a card (or to the bot) carrying the person's referral code when they have one."""
    user = consented(turn)
    code = await ReferralRepository(turn.session).code_of(user) if user is not None else None
    return Link(kind, item_id, code)


async def share_keys(turn: Turn, kind: str, item_id: int) -> tuple[Key, ...]:
    """Share into any chat (inline mode), or send the link where inline mode is not available."""
    link = await link_for(turn, kind, item_id)
    invitation = turn._("Have a look at this on Passaparola:")
    return (
        Key("📤 " + turn._("Share"), inline_query=Link(kind, item_id, None).payload),
        Key(
            "🔗 " + turn._("Send the link"),
            url=share_url(deep_link(turn.event.bot_url, link), invitation),
        ),
    )
