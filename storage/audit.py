"""The audit log: who did what, and when. Staff actions only; never message texts or tokens."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry, utcnow


@dataclass(frozen=True)
class AuditRecord:
    """One logged action, as plain values."""

    id: int
    actor_id: int | None
    action: str
    details: dict[str, Any]
    created_at: datetime


class AuditLog:
    """Appends to and reads the audit log inside the caller's session; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, actor_id: int | None, action: str, details: Mapping[str, Any]) -> None:
        """Log that `actor_id` did `action` (a dotted name such as "broadcast.send")."""
        entry = AuditEntry(
            actor_id=actor_id, action=action, details=dict(details), created_at=utcnow()
        )
        self.session.add(entry)
        await self.session.flush()

    async def entries(self, *, action_prefix: str = "", limit: int = 100) -> list[AuditRecord]:
        """The newest entries first, optionally only actions starting with `action_prefix`."""
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if action_prefix:
            query = query.where(AuditEntry.action.startswith(action_prefix, autoescape=True))
        return [
            AuditRecord(row.id, row.actor_id, row.action, dict(row.details), row.created_at)
            for row in await self.session.scalars(query)
        ]
