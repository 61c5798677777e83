"""Periodic jobs, run by the delivery worker between batches: expiry and data retention."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import utcnow
from storage.opportunities import OpportunityRepository
from storage.questions import QuestionRepository
from storage.users import UserRepository

RELAYED_QUESTIONS_KEPT = timedelta(days=30)


async def expire_opportunities(session: AsyncSession) -> None:
    """One-off opportunities whose date has passed stop being shown."""
    await OpportunityRepository(session).expire_past()


def purge_inactive_users(retention_days: int) -> Callable[[AsyncSession], Awaitable[None]]:
    """People who have not written for `retention_days` are forgotten, everything with them."""

    async def purge(session: AsyncSession) -> None:
        await UserRepository(session).purge_inactive(utcnow() - timedelta(days=retention_days))

    return purge


async def purge_relayed_questions(session: AsyncSession) -> None:
    """Relayed questions and answers go once rated, and after 30 days in any case."""
    await QuestionRepository(session).purge(utcnow() - RELAYED_QUESTIONS_KEPT)
