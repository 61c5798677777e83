"""Word of mouth: referral codes, who brought whom, shares and link opens, and their figures.

Nothing here names a person to anyone: figures are counts, and sharers appear as codes unless
they chose a name to be thanked by.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import LinkOpen, Referral, Share, Signup, User, utcnow

CODE_ALPHABET = string.ascii_letters + string.digits
CODE_LENGTH = 10  # 62**10 ≈ 8e17 codes: guessing one that exists is hopeless


def new_code() -> str:
    """A random referral code (never derived from an account id)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


@dataclass(frozen=True)
class MyReach:
    """What a person's sharing did: people who came through their links, and how many joined."""

    brought: int
    signed_up: int


@dataclass(frozen=True)
class CardReach:
    """One shared card's figures for staff."""

    kind: str
    item_id: int
    shares: int
    opens: int
    new_users: int
    signups: int
    depth: int


@dataclass(frozen=True)
class Sharer:
    """A sharer in staff's figures: a chosen name, or None (shown by pseudonym)."""

    user_id: int
    channel: str
    channel_user_id: str
    public_name: str | None
    brought: int


class ReferralRepository:
    """Reads and writes referral rows inside the caller's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def code_of(self, user: User) -> str:
        """The person's referral code, made on first use."""
        if user.referral_code is None:
            user.referral_code = new_code()
            await self.session.flush()
        return user.referral_code

    async def by_code(self, code: str) -> User | None:
        """Whose code this is (None for unknown or forged codes)."""
        return await self.session.scalar(select(User).where(User.referral_code == code))

    async def record_share(self, sharer_id: int, kind: str, item_id: int | None) -> None:
        """Someone posted a card into a chat."""
        self.session.add(Share(sharer_id=sharer_id, kind=kind, item_id=item_id))
        await self.session.flush()

    async def record_open(
        self,
        opener: User,
        kind: str,
        item_id: int | None,
        referrer: User | None,
        *,
        new_user: bool,
    ) -> bool:
        """A link was opened: counted once per person and card; False if counted before.

        The depth is one more than the referrer's own depth for this card (1 if the referrer
        did not arrive through a link to it).
        """
        seen = await self.session.scalar(
            select(LinkOpen.id).where(
                LinkOpen.opener_id == opener.id, LinkOpen.kind == kind, LinkOpen.item_id == item_id
            )
        )
        if seen is not None:
            return False
        depth = 1
        if referrer is not None:
            upstream = await self.session.scalar(
                select(LinkOpen.depth).where(
                    LinkOpen.opener_id == referrer.id,
                    LinkOpen.kind == kind,
                    LinkOpen.item_id == item_id,
                )
            )
            depth = (upstream or 0) + 1
        self.session.add(
            LinkOpen(
                opener_id=opener.id,
                referrer_id=referrer.id if referrer else None,
                kind=kind,
                item_id=item_id,
                depth=depth,
                new_user=new_user,
                locale=opener.locale or "",
            )
        )
        await self.session.flush()
        return True

    async def attribute(
        self, receiver: User, referrer: User, kind: str, item_id: int | None
    ) -> bool:
        """Credit `referrer` with bringing `receiver`: once per receiver, never oneself."""
        if receiver.id == referrer.id or await self.session.get(Referral, receiver.id):
            return False
        self.session.add(
            Referral(receiver_id=receiver.id, referrer_id=referrer.id, kind=kind, item_id=item_id)
        )
        await self.session.flush()
        return True

    async def referrer_of(self, receiver_id: int) -> int | None:
        """Who brought this person, if anyone."""
        referral = await self.session.get(Referral, receiver_id)
        return referral.referrer_id if referral else None

    async def my_reach(self, user_id: int) -> MyReach:
        """People who came through this person's links, and how many of them signed up."""
        brought = select(Referral.receiver_id).where(Referral.referrer_id == user_id)
        people = await self.session.scalar(select(func.count()).select_from(brought.subquery()))
        joined = await self.session.scalar(
            select(func.count(distinct(Signup.user_id))).where(
                Signup.user_id.in_(brought), Signup.withdrawn_at.is_(None)
            )
        )
        return MyReach(people or 0, joined or 0)

    async def card_reach(
        self, limit: int = 10, only: tuple[str, int] | None = None
    ) -> list[CardReach]:
        """Figures per shared card (or for the one card `only`), the most opened first."""
        keys = (LinkOpen.kind, LinkOpen.item_id)
        opens_query = select(
            *keys,
            func.count(LinkOpen.id),
            func.sum(case((LinkOpen.new_user, 1), else_=0)),
            func.max(LinkOpen.depth),
        ).group_by(*keys)
        shares_query = select(Share.kind, Share.item_id, func.count(Share.id)).group_by(
            Share.kind, Share.item_id
        )
        if only is not None:
            opens_query = opens_query.where(LinkOpen.kind == only[0], LinkOpen.item_id == only[1])
            shares_query = shares_query.where(Share.kind == only[0], Share.item_id == only[1])
        opened = await self.session.execute(opens_query)
        shared = await self.session.execute(shares_query)
        share_counts = {(kind, item): count for kind, item, count in shared.all()}
        figures: dict[tuple[str, int | None], list[int]] = {
            key: [count, 0, 0, 0] for key, count in share_counts.items()
        }
        for kind, item, opens, new_users, depth in opened.all():
            shares = share_counts.get((kind, item), 0)
            figures[(kind, item)] = [shares, opens, int(new_users or 0), int(depth or 0)]
        signups = await self._signups_after_links()
        rows = [
            CardReach(
                kind, item, shares, opens, new, signups.get(item, 0) if kind == "o" else 0, depth
            )
            for (kind, item), (shares, opens, new, depth) in figures.items()
            if kind in ("o", "s") and item is not None
        ]
        rows.sort(key=lambda row: (-row.opens, -row.shares, row.kind, row.item_id))
        return rows[:limit]

    async def _signups_after_links(self) -> dict[int, int]:
        """Per opportunity: sign-ups by people who opened a shared link to it."""
        result = await self.session.execute(
            select(Signup.opportunity_id, func.count(Signup.id))
            .join(
                LinkOpen,
                (LinkOpen.opener_id == Signup.user_id)
                & (LinkOpen.kind == "o")
                & (LinkOpen.item_id == Signup.opportunity_id),
            )
            .where(Signup.withdrawn_at.is_(None))
            .group_by(Signup.opportunity_id)
        )
        return {item: count for item, count in result.all()}

    async def reach_by_language(
        self, kind: str | None = None, item_id: int | None = None
    ) -> list[tuple[str, int]]:
        """Link opens per reader's language, largest first (for one card, or all)."""
        query = select(LinkOpen.locale, func.count(LinkOpen.id)).group_by(LinkOpen.locale)
        if kind is not None:
            query = query.where(LinkOpen.kind == kind, LinkOpen.item_id == item_id)
        rows = (await self.session.execute(query)).all()
        return sorted(((locale, count) for locale, count in rows), key=lambda r: (-r[1], r[0]))

    async def top_sharers(self, limit: int = 5) -> list[Sharer]:
        """The people who brought the most newcomers."""
        brought = func.count(Referral.receiver_id).label("brought")
        rows = await self.session.execute(
            select(User.id, User.channel, User.channel_user_id, User.public_name, brought)
            .join(Referral, Referral.referrer_id == User.id)
            .group_by(User.id)
            .order_by(brought.desc(), User.id)
            .limit(limit)
        )
        return [Sharer(*row) for row in rows.all()]

    async def weekly(self, weeks: int = 8, now: datetime | None = None) -> list[tuple[int, int]]:
        """Shares and new users per week, oldest week first (the last is the current week)."""
        now = now or utcnow()
        start = now - timedelta(weeks=weeks)
        shares = (
            await self.session.scalars(select(Share.created_at).where(Share.created_at >= start))
        ).all()
        newcomers = (
            await self.session.scalars(
                select(Referral.created_at).where(Referral.created_at >= start)
            )
        ).all()
        buckets = [[0, 0] for _ in range(weeks)]
        for index, moments in enumerate((shares, newcomers)):
            for moment in moments:
                aware = moment if moment.tzinfo else moment.replace(tzinfo=now.tzinfo)
                week = weeks - 1 - int((now - aware) / timedelta(weeks=1))
                if 0 <= week < weeks:
                    buckets[week][index] += 1
        return [(shared, new) for shared, new in buckets]
