"""Broadcasts repository: audiences, the broadcast job's life cycle, and its fan-out.

Takes the caller's session and never commits. An audience is walked in user id order with keyset
pagination, a window of ids at a time, and each window is queued by one INSERT ... SELECT in the
same transaction that moves the broadcast's cursor past it: no user id passes through Python, so
memory does not grow with the audience, and a fan-out interrupted anywhere resumes exactly where
it stopped (the dedupe keys make any repeat harmless anyway).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.deliveries import DeliveryCounts, DeliveryRepository
from storage.models import (
    Area,
    Broadcast,
    BroadcastStatus,
    Follow,
    Opportunity,
    Signup,
    User,
    UserArea,
    UserStatus,
    utcnow,
)

KIND = "broadcast"  # the deliveries' kind; payload {"broadcast_id": id}
AUDIENCE_KINDS = ("all", "locales", "areas", "city", "category", "active", "opportunity")
FANOUT_BATCH = 1000
LIVE = (BroadcastStatus.SENDING, BroadcastStatus.PAUSED)
OPEN = (BroadcastStatus.SCHEDULED, *LIVE)


class BadAudience(ValueError):
    """A stored audience that does not parse."""


@dataclass(frozen=True)
class Audience:
    """Who a broadcast is for: everyone, or one segment. Stored as JSON on the broadcast."""

    kind: str = "all"
    locales: tuple[str, ...] = ()
    area_ids: tuple[int, ...] = ()
    city: str = ""
    category: str = ""
    days: int = 0
    opportunity_id: int = 0

    def to_json(self) -> dict[str, Any]:
        """Only the fields that mean something for this kind."""
        data = {key: list(value) if isinstance(value, tuple) else value
                for key, value in asdict(self).items() if value}  # fmt: skip
        return {**data, "kind": self.kind}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Audience:
        """Parse strictly; BadAudience for anything we would not have written."""
        try:
            audience = cls(
                kind=str(data.get("kind", "all")),
                locales=tuple(str(code) for code in data.get("locales", ())),
                area_ids=tuple(int(area) for area in data.get("area_ids", ())),
                city=str(data.get("city", "")),
                category=str(data.get("category", "")),
                days=int(data.get("days", 0)),
                opportunity_id=int(data.get("opportunity_id", 0)),
            )
        except (TypeError, ValueError) as error:
            raise BadAudience(str(error)) from None
        if audience.kind not in AUDIENCE_KINDS:
            raise BadAudience(f"unknown audience kind {audience.kind!r}")
        return audience


@dataclass(frozen=True)
class BroadcastView:
    """A broadcast as plain values, for handlers and the progress reporter."""

    id: int
    author_id: int | None
    texts: dict[str, str]
    source_locale: str
    fallback_locale: str
    photo: str | None
    audience: Audience
    status: BroadcastStatus
    scheduled_at: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    recipients: int
    fanout_done: bool
    progress_chat_id: str | None = None
    progress_message_id: str | None = None
    counts: DeliveryCounts = field(default_factory=DeliveryCounts)


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; every datetime we store is UTC."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _utc(moment: datetime) -> datetime:
    """Store UTC only: SQLite keeps the wall time and drops the offset."""
    if moment.tzinfo is None:
        raise ValueError("broadcast times must be timezone-aware")
    return moment.astimezone(UTC)


def dedupe_prefix(broadcast_id: int) -> str:
    """The dedupe-key prefix of a broadcast's deliveries."""
    return f"bc{broadcast_id}:"


def pick_version(texts: Mapping[str, str], fallback: str, locale: str | None) -> str:
    """The locale whose version a reader of `locale` gets: their own, else the fallback."""
    return locale if locale is not None and locale in texts else fallback


def fallback_locale(texts: Mapping[str, str], source: str, default_locale: str) -> str:
    """Readers without a version of their own get the default locale's version, else the first."""
    return default_locale if default_locale in texts else source


class BroadcastRepository:
    """Reads and writes broadcasts (and queues their deliveries) inside the caller's session."""

    def __init__(self, session: AsyncSession, default_locale: str) -> None:
        self.session = session
        self.default_locale = default_locale

    # --- audiences ----------------------------------------------------------------------

    def _reader_locale(self) -> ColumnElement[str]:
        """A user's locale; someone who never chose one reads the default locale."""
        return func.coalesce(User.locale, self.default_locale)

    def _audience(self, audience: Audience, now: datetime) -> list[ColumnElement[bool]]:
        """Reachable (active, consented, not muted, on Telegram) people in the segment."""
        reachable: list[ColumnElement[bool]] = [
            # `|| ''` keeps SQLite from walking the (channel, channel_user_id) index, which holds
            # nearly every user, instead of the id range a fan-out window asks for.
            User.channel + "" == "telegram",
            User.status == UserStatus.ACTIVE,
            User.consented_at.is_not(None),
            User.muted.is_(False),
        ]
        match audience.kind:
            case "locales":
                reachable.append(self._reader_locale().in_(audience.locales))
            case "areas":
                reachable.append(
                    exists().where(
                        UserArea.user_id == User.id, UserArea.area_id.in_(audience.area_ids)
                    )
                )
            case "city":
                reachable.append(
                    exists()
                    .where(UserArea.user_id == User.id)
                    .where(Area.id == UserArea.area_id, Area.city == audience.city)
                )
            case "category":
                reachable.append(
                    exists().where(Follow.user_id == User.id, Follow.category == audience.category)
                )
            case "active":
                reachable.append(User.last_seen_at >= _utc(now) - timedelta(days=audience.days))
            case "opportunity":
                reachable.append(
                    exists().where(
                        Signup.user_id == User.id,
                        Signup.opportunity_id == audience.opportunity_id,
                        Signup.withdrawn_at.is_(None),
                    )
                )
        return reachable

    async def readers(self, audience: Audience, now: datetime | None = None) -> dict[str, int]:
        """How many people in the audience read each locale."""
        locale = self._reader_locale()
        rows = await self.session.execute(
            select(locale, func.count())
            .where(*self._audience(audience, now or utcnow()))
            .group_by(locale)
        )
        return {str(code): count for code, count in rows.all()}

    def recipients_between(
        self, audience: Audience, after: int, last: int, now: datetime
    ) -> Select[tuple[int]]:
        """The audience's user ids in (after, last], as a query (column `user_id`)."""
        return select(User.id.label("user_id")).where(
            User.id > after, User.id <= last, *self._audience(audience, now)
        )

    async def next_window(
        self, audience: Audience, *, after: int, limit: int, now: datetime
    ) -> tuple[int, int]:
        """The last user id among the next `limit` people in the audience after `after`, and
        how many there are (fewer than `limit` at the end)."""
        window = (
            select(User.id)
            .where(User.id > after, *self._audience(audience, now))
            .order_by(User.id)
            .limit(limit)
            .subquery()
        )
        last, found = (
            await self.session.execute(
                select(func.max(window.c.id), func.count()).select_from(window)
            )
        ).one()
        return int(last or after), int(found)

    async def cities(self) -> list[tuple[int, str]]:
        """Each city that has areas, with one of its area ids (a compact token for buttons)."""
        rows = await self.session.execute(
            select(func.min(Area.id), Area.city).group_by(Area.city).order_by(Area.city)
        )
        return [(area_id, city) for area_id, city in rows.all()]

    async def city_of_area(self, area_id: int) -> str | None:
        """The city an area belongs to."""
        return await self.session.scalar(select(Area.city).where(Area.id == area_id))

    async def opportunities_with_signups(self, limit: int = 20) -> list[tuple[int, int]]:
        """(opportunity id, active sign-ups) for the opportunities most people signed up to."""
        count = func.count(Signup.id)
        rows = await self.session.execute(
            select(Signup.opportunity_id, count)
            .join(Opportunity, Opportunity.id == Signup.opportunity_id)
            .where(Signup.withdrawn_at.is_(None))
            .group_by(Signup.opportunity_id)
            .order_by(count.desc(), Signup.opportunity_id)
            .limit(limit)
        )
        return [(opportunity_id, signups) for opportunity_id, signups in rows.all()]

    # --- the job ------------------------------------------------------------------------

    async def create(
        self,
        *,
        author_id: int,
        texts: Mapping[str, str],
        source_locale: str,
        photo: str | None,
        audience: Audience,
        scheduled_at: datetime | None,
    ) -> int:
        """A confirmed broadcast: sending now, or scheduled for `scheduled_at`."""
        broadcast = Broadcast(
            author_id=author_id,
            texts=dict(texts),
            source_locale=source_locale,
            fallback_locale=fallback_locale(texts, source_locale, self.default_locale),
            photo=photo,
            audience=audience.to_json(),
            status=BroadcastStatus.SCHEDULED if scheduled_at else BroadcastStatus.SENDING,
            scheduled_at=_utc(scheduled_at) if scheduled_at else None,
            started_at=None if scheduled_at else utcnow(),
            recipients=0,
            fanout_cursor=0,
            fanout_done=False,
        )
        self.session.add(broadcast)
        await self.session.flush()
        return broadcast.id

    async def get(self, broadcast_id: int) -> Broadcast | None:
        """The broadcast row (from the session's identity map when already loaded)."""
        return await self.session.get(Broadcast, broadcast_id)

    async def view(self, broadcast_id: int, *, with_counts: bool = False) -> BroadcastView | None:
        """The broadcast as plain values, with its deliveries' counts if asked."""
        row = await self.session.get(Broadcast, broadcast_id, populate_existing=True)
        if row is None:
            return None
        counts = await self.counts(row.id) if with_counts else DeliveryCounts()
        return BroadcastView(
            id=row.id,
            author_id=row.author_id,
            texts=dict(row.texts),
            source_locale=row.source_locale,
            fallback_locale=row.fallback_locale,
            photo=row.photo,
            audience=Audience.from_json(row.audience),
            status=row.status,
            scheduled_at=_aware(row.scheduled_at),
            created_at=_aware(row.created_at) or utcnow(),
            started_at=_aware(row.started_at),
            finished_at=_aware(row.finished_at),
            recipients=row.recipients,
            fanout_done=row.fanout_done,
            progress_chat_id=row.progress_chat_id,
            progress_message_id=row.progress_message_id,
            counts=counts,
        )

    async def counts(self, broadcast_id: int) -> DeliveryCounts:
        """The broadcast's deliveries per state."""
        return await DeliveryRepository(self.session).counts(
            dedupe_prefix=dedupe_prefix(broadcast_id)
        )

    async def open_ids(self) -> list[int]:
        """Scheduled, sending and paused broadcasts, oldest first."""
        return list(
            await self.session.scalars(
                select(Broadcast.id).where(Broadcast.status.in_(OPEN)).order_by(Broadcast.id)
            )
        )

    async def to_report(self) -> list[int]:
        """Broadcasts whose progress message may need an update: live, or ended unreported."""
        return list(
            await self.session.scalars(
                select(Broadcast.id)
                .where(
                    Broadcast.status.in_((*LIVE, BroadcastStatus.CANCELLED, BroadcastStatus.DONE)),
                    Broadcast.finished_at.is_(None),
                )
                .order_by(Broadcast.id)
            )
        )

    async def start_due(self, now: datetime) -> list[int]:
        """Scheduled broadcasts whose time has come start sending; returns their ids."""
        now = _utc(now)
        due = list(
            await self.session.scalars(
                select(Broadcast.id).where(
                    Broadcast.status == BroadcastStatus.SCHEDULED, Broadcast.scheduled_at <= now
                )
            )
        )
        if due:
            await self.session.execute(
                update(Broadcast)
                .where(Broadcast.id.in_(due), Broadcast.status == BroadcastStatus.SCHEDULED)
                .values(status=BroadcastStatus.SENDING, started_at=now)
                .execution_options(synchronize_session=False)
            )
        return due

    async def fan_out(self, broadcast_id: int, limit: int = FANOUT_BATCH) -> bool | None:
        """Queue the next `limit` recipients; True when everyone is queued, None if not sending.

        Each recipient gets one delivery (key `bc<id>:<user id>`), due now, written by one
        INSERT ... SELECT: no user id passes through Python.
        """
        broadcast = await self.session.get(Broadcast, broadcast_id, populate_existing=True)
        if broadcast is None or broadcast.status is not BroadcastStatus.SENDING:
            return None
        if broadcast.fanout_done:
            return True
        audience, after, now = (
            Audience.from_json(broadcast.audience),
            broadcast.fanout_cursor,
            utcnow(),
        )
        last, found = await self.next_window(audience, after=after, limit=limit, now=now)
        if found:
            broadcast.recipients += await DeliveryRepository(self.session).enqueue_selected(
                self.recipients_between(audience, after, last, now),
                KIND,
                {"broadcast_id": broadcast_id},
                dedupe_prefix=dedupe_prefix(broadcast_id),
            )
            broadcast.fanout_cursor = last
        broadcast.fanout_done = found < limit
        await self.session.flush()
        return broadcast.fanout_done

    async def pause(self, broadcast_id: int) -> bool:
        """Stop sending: queued deliveries wait. False if it was not sending."""
        if not await self._move(broadcast_id, (BroadcastStatus.SENDING,), BroadcastStatus.PAUSED):
            return False
        await DeliveryRepository(self.session).hold(dedupe_prefix(broadcast_id))
        return True

    async def resume(self, broadcast_id: int, now: datetime) -> bool:
        """Send again what waits. False if it was not paused."""
        if not await self._move(broadcast_id, (BroadcastStatus.PAUSED,), BroadcastStatus.SENDING):
            return False
        await DeliveryRepository(self.session).unhold(dedupe_prefix(broadcast_id), now)
        return True

    async def cancel(self, broadcast_id: int) -> int | None:
        """Nothing more is sent; returns how many queued deliveries were withdrawn, or None."""
        if not await self._move(broadcast_id, OPEN, BroadcastStatus.CANCELLED):
            return None
        return await DeliveryRepository(self.session).cancel_all(dedupe_prefix(broadcast_id))

    async def complete(self, broadcast_id: int) -> None:
        """Everyone was queued and nothing is left to send: it is done."""
        await self._move(broadcast_id, (BroadcastStatus.SENDING,), BroadcastStatus.DONE)

    async def reported(self, broadcast_id: int, now: datetime) -> None:
        """The final report was written: the broadcast is finished."""
        await self.session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id)
            .values(finished_at=_utc(now))
            .execution_options(synchronize_session=False)
        )

    async def set_progress_message(self, broadcast_id: int, chat_id: str, message_id: str) -> None:
        """Remember the message that shows the broadcast's progress."""
        await self.session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id)
            .values(progress_chat_id=chat_id, progress_message_id=message_id)
            .execution_options(synchronize_session=False)
        )

    async def _move(
        self, broadcast_id: int, sources: tuple[BroadcastStatus, ...], target: BroadcastStatus
    ) -> bool:
        result = await self.session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.status.in_(sources))
            .values(status=target)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)
