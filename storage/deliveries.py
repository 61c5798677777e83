"""Deliveries repository: the durable queue behind notifications, reminders and broadcasts.

Takes the caller's session and never commits. Enqueueing is idempotent by `dedupe_key`; claiming
leases due rows to one worker (`claimed_until`), atomically, so several workers can share a queue.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    Update,
    cast,
    func,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Delivery, DeliveryStatus, User, utcnow

MAX_ERROR_LENGTH = 200  # deliveries.last_error
ON_HOLD = datetime(9999, 12, 31, tzinfo=UTC)  # the due time of a delivery held until released


@dataclass(frozen=True)
class ClaimedDelivery:
    """A due delivery leased to one worker until `lease`, as plain values."""

    id: int
    user_id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    lease: datetime


@dataclass(frozen=True)
class DeliveryCounts:
    """How many deliveries are in each state."""

    queued: int = 0
    sent: int = 0
    failed: int = 0
    blocked: int = 0
    cancelled: int = 0

    @property
    def total(self) -> int:
        """Every delivery counted."""
        return self.queued + self.sent + self.failed + self.blocked + self.cancelled


def _utc(moment: datetime) -> datetime:
    """Store UTC only: SQLite keeps the wall time and drops the offset."""
    if moment.tzinfo is None:
        raise ValueError("delivery times must be timezone-aware")
    return moment.astimezone(UTC)


class DeliveryRepository:
    """Reads and writes `deliveries` rows inside the caller's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- producers ----------------------------------------------------------------------

    async def enqueue(
        self,
        user_id: int,
        kind: str,
        payload: dict[str, Any],
        *,
        dedupe_key: str | None = None,
        due_at: datetime | None = None,
    ) -> bool:
        """Queue one message for a user; False if `dedupe_key` was queued before."""
        row = {"user_id": user_id, "kind": kind, "payload": payload, "dedupe_key": dedupe_key}
        return await self._insert([row], due_at) == 1

    async def enqueue_many(
        self,
        user_ids: Iterable[int],
        kind: str,
        payload: dict[str, Any],
        *,
        dedupe_prefix: str | None = None,
        due_at: datetime | None = None,
    ) -> int:
        """Queue the same message for many users (keys `<prefix><user_id>`); returns how many."""
        rows = [
            {
                "user_id": user_id,
                "kind": kind,
                "payload": payload,
                "dedupe_key": None if dedupe_prefix is None else f"{dedupe_prefix}{user_id}",
            }
            for user_id in user_ids
        ]
        return await self._insert(rows, due_at) if rows else 0

    async def enqueue_selected(
        self,
        user_ids: Select[tuple[int]],
        kind: str,
        payload: dict[str, Any],
        *,
        dedupe_prefix: str,
        due_at: datetime | None = None,
    ) -> int:
        """enqueue_many for the users a query selects (one column, `user_id`), in a single
        INSERT ... SELECT: the ids never leave the database. Returns how many were queued."""
        table = Delivery.__table__
        chosen = user_ids.subquery()
        user_id = chosen.c.user_id
        when = _utc(due_at) if due_at is not None else utcnow()
        source = select(
            user_id,
            literal(kind, table.c.kind.type),
            literal(payload, table.c.payload.type),
            literal(dedupe_prefix, String) + cast(user_id, String),
            literal(DeliveryStatus.QUEUED.value, String),
            literal(when, table.c.due_at.type),
            literal(0, Integer),
            literal("", String),
            literal(utcnow(), table.c.created_at.type),
        ).where(true())  # SQLite needs a WHERE before ON CONFLICT in an INSERT ... SELECT
        names = ["user_id", "kind", "payload", "dedupe_key", "status", "due_at", "attempts",
                 "last_error", "created_at"]  # fmt: skip
        dialect = sqlite if self.session.get_bind().dialect.name == "sqlite" else postgresql
        statement = (
            dialect.insert(table)
            .from_select(names, source)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
        )
        result = await self.session.execute(statement)
        return int(result.rowcount or 0)

    async def _insert(self, rows: list[dict[str, Any]], due_at: datetime | None) -> int:
        when = _utc(due_at) if due_at is not None else utcnow()
        dialect = sqlite if self.session.get_bind().dialect.name == "sqlite" else postgresql
        statement = (
            dialect.insert(Delivery.__table__)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(Delivery.__table__.c.id)
        )
        result = await self.session.execute(statement, [{**row, "due_at": when} for row in rows])
        return len(result.all())

    async def cancel(self, dedupe_key: str) -> bool:
        """A still-queued delivery will not be sent after all; False if there was none."""
        result = await self.session.execute(
            update(Delivery)
            .where(Delivery.dedupe_key == dedupe_key, Delivery.status == DeliveryStatus.QUEUED)
            .values(status=DeliveryStatus.CANCELLED, claimed_until=None)
        )
        return bool(result.rowcount)

    async def cancel_all(self, dedupe_prefix: str) -> int:
        """Withdraw every still-queued delivery whose key starts with the prefix; how many."""
        result = await self.session.execute(
            _update()
            .where(_prefixed(dedupe_prefix), Delivery.status == DeliveryStatus.QUEUED)
            .values(status=DeliveryStatus.CANCELLED, claimed_until=None)
        )
        return int(result.rowcount or 0)

    async def hold(self, dedupe_prefix: str) -> int:
        """Keep queued deliveries with this key prefix from being sent until `unhold`."""
        result = await self.session.execute(
            _update()
            .where(_prefixed(dedupe_prefix), Delivery.status == DeliveryStatus.QUEUED)
            .values(due_at=ON_HOLD)
        )
        return int(result.rowcount or 0)

    async def unhold(self, dedupe_prefix: str, now: datetime) -> int:
        """Held deliveries with this key prefix are due again from `now`."""
        result = await self.session.execute(
            _update()
            .where(
                _prefixed(dedupe_prefix),
                Delivery.status == DeliveryStatus.QUEUED,
                Delivery.due_at >= ON_HOLD,
            )
            .values(due_at=_utc(now))
        )
        return int(result.rowcount or 0)

    async def counts(
        self, *, kind: str | None = None, dedupe_prefix: str | None = None
    ) -> DeliveryCounts:
        """Progress: deliveries per state, optionally of one kind or one key prefix."""
        query = select(Delivery.status, func.count()).group_by(Delivery.status)
        if kind is not None:
            query = query.where(Delivery.kind == kind)
        if dedupe_prefix is not None:
            query = query.where(_prefixed(dedupe_prefix))
        by_status = {
            DeliveryStatus(status): count for status, count in await self.session.execute(query)
        }
        return DeliveryCounts(**{status.value: count for status, count in by_status.items()})

    # --- the worker ---------------------------------------------------------------------

    async def claim(
        self, channel: str, limit: int, now: datetime, lease: datetime
    ) -> list[ClaimedDelivery]:
        """Lease up to `limit` due, unleased deliveries for users on `channel`, oldest first.

        One statement, so two workers never get the same row: on PostgreSQL the locking CTE
        skips rows another worker holds; SQLite runs the whole statement under its write lock.
        """
        now, lease = _utc(now), _utc(lease)
        due = (
            select(Delivery.id)
            .join(User, User.id == Delivery.user_id)
            .where(
                Delivery.status == DeliveryStatus.QUEUED,
                Delivery.due_at <= now,
                or_(Delivery.claimed_until.is_(None), Delivery.claimed_until <= now),
                User.channel == channel,
            )
            .order_by(Delivery.due_at, Delivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=Delivery.__table__)
            .cte("due")
        )
        result = await self.session.execute(
            _update()
            .where(Delivery.id.in_(select(due.c.id)))
            .values(claimed_until=lease)
            .returning(
                Delivery.id, Delivery.user_id, Delivery.kind, Delivery.payload, Delivery.attempts
            )
        )
        claimed = [ClaimedDelivery(*row, lease=lease) for row in result]
        return sorted(claimed, key=lambda delivery: delivery.id)

    async def release(self, deliveries: Sequence[ClaimedDelivery]) -> None:
        """Give leased deliveries back unsent, unless their lease already passed to another."""
        for lease in {delivery.lease for delivery in deliveries}:
            ids = [delivery.id for delivery in deliveries if delivery.lease == lease]
            await self.session.execute(
                _update()
                .where(Delivery.id.in_(ids), Delivery.claimed_until == lease)
                .values(claimed_until=None)
            )

    async def mark_sent(self, delivery_id: int, now: datetime) -> None:
        """The channel accepted the message (recorded even if it was cancelled meanwhile)."""
        await self.session.execute(
            _update()
            .where(Delivery.id == delivery_id)
            .values(
                status=DeliveryStatus.SENT,
                sent_at=_utc(now),
                claimed_until=None,
                attempts=Delivery.attempts + 1,
            )
        )

    async def mark_sent_many(self, delivery_ids: Sequence[int], now: datetime) -> None:
        """mark_sent for several deliveries at once (one statement)."""
        await self.session.execute(
            _update()
            .where(Delivery.id.in_(delivery_ids))
            .values(
                status=DeliveryStatus.SENT,
                sent_at=_utc(now),
                claimed_until=None,
                attempts=Delivery.attempts + 1,
            )
        )

    async def postpone(self, delivery_id: int, due_at: datetime) -> None:
        """Not now, and not a failed attempt: a queued delivery is due again from `due_at`."""
        await self.session.execute(
            _update()
            .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.QUEUED)
            .values(due_at=_utc(due_at), claimed_until=None)
        )

    async def finish(
        self, delivery_id: int, status: DeliveryStatus, error: str = "", *, attempted: bool = False
    ) -> None:
        """A queued delivery ends unsent: failed, blocked or cancelled."""
        await self.session.execute(
            _update()
            .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.QUEUED)
            .values(
                status=status,
                claimed_until=None,
                attempts=Delivery.attempts + int(attempted),
                last_error=error[:MAX_ERROR_LENGTH],
            )
        )

    async def retry_later(self, delivery_id: int, due_at: datetime, error: str) -> None:
        """A send attempt failed for now: count it and try again from `due_at`."""
        await self.session.execute(
            _update()
            .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.QUEUED)
            .values(
                due_at=_utc(due_at),
                claimed_until=None,
                attempts=Delivery.attempts + 1,
                last_error=error[:MAX_ERROR_LENGTH],
            )
        )


def _prefixed(dedupe_prefix: str) -> ColumnElement[bool]:
    """Deliveries whose dedupe key starts with `dedupe_prefix` (taken literally)."""
    return Delivery.dedupe_key.startswith(dedupe_prefix, autoescape=True)


def _update() -> Update:
    """An UPDATE of deliveries that leaves the session's loaded objects alone."""
    return update(Delivery).execution_options(synchronize_session=False)
