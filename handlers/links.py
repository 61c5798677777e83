"""Deep links: `?start=` payloads that open a card and carry the sharer's referral code.

Telegram allows at most 64 characters of A-Z a-z 0-9 _ -. Ours are `o123` (an opportunity),
`s45` (a service), either followed by `_<code>` when someone shared it, and `i_<code>` (an
invitation to the bot itself). Payloads are untrusted: anything else is not a link of ours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from storage.referrals import CODE_LENGTH

KINDS = ("o", "s")  # opportunity, service
INVITE = "i"
MAX_PAYLOAD = 64
CARD_PAYLOAD = re.compile(
    rf"^(?P<kind>[os])(?P<id>[1-9][0-9]{{0,9}})(?:_(?P<code>[A-Za-z0-9]{{{CODE_LENGTH}}}))?$"
)
INVITE_PAYLOAD = re.compile(rf"^i_(?P<code>[A-Za-z0-9]{{{CODE_LENGTH}}})$")


@dataclass(frozen=True)
class Link:
    """What a payload points to: a card (kind and id) or the bot (kind "i"), and who shared it."""

    kind: str
    item_id: int | None
    code: str | None

    @property
    def payload(self) -> str:
        """The `?start=` payload for this link."""
        if self.kind == INVITE:
            return f"i_{self.code}"
        return f"{self.kind}{self.item_id}" + (f"_{self.code}" if self.code else "")


def parse_link(payload: str) -> Link | None:
    """A payload of ours, or None for anything malformed, oversized or foreign."""
    if len(payload) > MAX_PAYLOAD:
        return None
    if (card := CARD_PAYLOAD.match(payload)) is not None:
        return Link(card["kind"], int(card["id"]), card["code"])
    if (invite := INVITE_PAYLOAD.match(payload)) is not None:
        return Link(INVITE, None, invite["code"])
    return None


def deep_link(bot_url: str, link: Link) -> str:
    """The t.me URL that opens the bot with this link."""
    return f"{bot_url}?start={link.payload}"


def share_url(url: str, text: str) -> str:
    """Telegram's share page for a link, for clients where inline mode is not available."""
    return "https://t.me/share/url?" + urlencode({"url": url, "text": text})
