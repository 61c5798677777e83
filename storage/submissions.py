"""Peer submissions: opportunities people tell us about, waiting for a moderator. Never commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Submission, SubmissionStatus, utcnow
from storage.opportunities import aware

FIELDS = ("title", "what", "place", "timing", "contact")


@dataclass(frozen=True)
class SubmissionView:
    """One submission as plain values."""

    id: int
    submitter_id: int | None
    locale: str
    fields: dict[str, str]  # FIELDS -> text, as the submitter wrote it
    status: SubmissionStatus
    reason: str | None
    opportunity_id: int | None
    created_at: datetime
    decided_at: datetime | None


def _view(row: Submission) -> SubmissionView:
    created = aware(row.created_at)
    assert created is not None
    return SubmissionView(
        id=row.id,
        submitter_id=row.submitter_id,
        locale=row.locale,
        fields={name: str(getattr(row, name)) for name in FIELDS},
        status=row.status,
        reason=row.reason,
        opportunity_id=row.opportunity_id,
        created_at=created,
        decided_at=aware(row.decided_at),
    )


class SubmissionRepository:
    """Reads and writes submissions inside the caller's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(self, submitter_id: int, locale: str, fields: dict[str, str]) -> int:
        """Queue a submission for moderation; returns its id."""
        row = Submission(
            submitter_id=submitter_id,
            locale=locale,
            status=SubmissionStatus.PENDING,
            **{name: fields[name] for name in FIELDS},
        )
        self.session.add(row)
        await self.session.flush()
        return row.id

    async def get(self, submission_id: int) -> SubmissionView | None:
        """One submission, whatever its status."""
        row = await self.session.get(Submission, submission_id)
        return _view(row) if row is not None else None

    async def sent_since(self, submitter_id: int, since: datetime) -> list[datetime]:
        """When the person sent each submission after `since`, oldest first."""
        moments = await self.session.scalars(
            select(Submission.created_at)
            .where(Submission.submitter_id == submitter_id, Submission.created_at >= since)
            .order_by(Submission.created_at)
        )
        return [moment for moment in (aware(value) for value in moments) if moment is not None]

    async def pending_count(self, reviewer_id: int) -> int:
        """How many submissions wait for this moderator (their own wait for someone else)."""
        count = await self.session.scalar(select(func.count()).where(*_waiting_for(reviewer_id)))
        return count or 0

    async def next_pending(self, reviewer_id: int, after_id: int = 0) -> SubmissionView | None:
        """The oldest submission waiting for this moderator after `after_id`, else the oldest."""
        query = select(Submission).where(*_waiting_for(reviewer_id))
        row = await self.session.scalar(
            query.where(Submission.id > after_id).order_by(Submission.id).limit(1)
        )
        if row is None and after_id:
            row = await self.session.scalar(query.order_by(Submission.id).limit(1))
        return _view(row) if row is not None else None

    async def of_submitter(self, submitter_id: int) -> list[SubmissionView]:
        """Everything the person submitted, oldest first."""
        rows = await self.session.scalars(
            select(Submission)
            .where(Submission.submitter_id == submitter_id)
            .order_by(Submission.id)
        )
        return [_view(row) for row in rows]

    async def decide(
        self,
        submission_id: int,
        moderator_id: int,
        status: SubmissionStatus,
        *,
        reason: str | None = None,
    ) -> bool:
        """Approve or reject a pending submission, atomically; False if it was decided already."""
        result = await self.session.execute(
            update(Submission)
            .where(Submission.id == submission_id, Submission.status == SubmissionStatus.PENDING)
            .values(status=status, reason=reason, moderator_id=moderator_id, decided_at=utcnow())
            .execution_options(synchronize_session="fetch")
        )
        return bool(result.rowcount)

    async def link_opportunity(self, submission_id: int, opportunity_id: int) -> None:
        """Remember which opportunity an approved submission became."""
        await self.session.execute(
            update(Submission)
            .where(Submission.id == submission_id)
            .values(opportunity_id=opportunity_id)
            .execution_options(synchronize_session="fetch")
        )


def _waiting_for(reviewer_id: int) -> tuple[ColumnElement[bool], ...]:
    """Pending, and not sent by the reviewer: nobody approves their own suggestion."""
    return (
        Submission.status == SubmissionStatus.PENDING,
        or_(Submission.submitter_id.is_(None), Submission.submitter_id != reviewer_id),
    )
