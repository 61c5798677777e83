"""Questions relayed to volunteer helpers: waiting, claimed, answered, rated."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import FaqEntry, HelperQuestion, QuestionStatus, User, UserStatus, utcnow


class QuestionRepository:
    """Reads and writes helper questions inside the caller's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(self, asker_id: int, locale: str, question: str) -> HelperQuestion:
        """Queue a question for the helpers who speak `locale`."""
        item = HelperQuestion(asker_id=asker_id, locale=locale, question=question)
        self.session.add(item)
        await self.session.flush()
        return item

    async def get(self, question_id: int) -> HelperQuestion | None:
        """One question."""
        return await self.session.get(HelperQuestion, question_id)

    async def waiting_count(self, locale: str) -> int:
        """How many questions in `locale` wait for a helper."""
        count = await self.session.scalar(
            select(func.count()).where(
                HelperQuestion.status == QuestionStatus.WAITING, HelperQuestion.locale == locale
            )
        )
        return count or 0

    async def oldest_waiting(self, locale: str) -> HelperQuestion | None:
        """The question in `locale` that has waited longest."""
        return await self.session.scalar(
            select(HelperQuestion)
            .where(HelperQuestion.status == QuestionStatus.WAITING, HelperQuestion.locale == locale)
            .order_by(HelperQuestion.id)
            .limit(1)
        )

    async def claim(self, item: HelperQuestion, helper_id: int) -> bool:
        """Take a waiting question (atomically: two helpers cannot both take it)."""
        result = await self.session.execute(
            update(HelperQuestion)
            .where(HelperQuestion.id == item.id, HelperQuestion.status == QuestionStatus.WAITING)
            .values(status=QuestionStatus.CLAIMED, helper_id=helper_id)
            .execution_options(synchronize_session="fetch")
        )
        return bool(result.rowcount)

    async def answer(self, item: HelperQuestion, helper_id: int, answer: str) -> bool:
        """Record the claiming helper's answer."""
        if item.status is not QuestionStatus.CLAIMED or item.helper_id != helper_id:
            return False
        item.answer, item.status, item.answered_at = answer, QuestionStatus.ANSWERED, utcnow()
        return True

    async def rate(self, item: HelperQuestion, helpful: bool) -> bool:
        """The asker's verdict on the answer, once."""
        if item.status is not QuestionStatus.ANSWERED:
            return False
        item.rating, item.status = int(helpful), QuestionStatus.RATED
        return True

    async def is_promoted(self, item: HelperQuestion) -> bool:
        """Was this answer already turned into an FAQ entry?"""
        found = await self.session.scalar(
            select(FaqEntry.id).where(FaqEntry.promoted_from == item.id)
        )
        return found is not None

    async def purge(self, older_than: datetime) -> int:
        """Delete rated questions, and every question asked before `older_than`."""
        result = await self.session.execute(
            delete(HelperQuestion).where(
                or_(
                    HelperQuestion.status == QuestionStatus.RATED,
                    HelperQuestion.created_at < older_than,
                )
            )
        )
        return result.rowcount or 0

    async def helpers_for(self, locale: str, *, exclude: int) -> list[int]:
        """Active helpers who speak `locale` (their chosen language)."""
        users = await self.session.scalars(
            select(User).where(
                User.locale == locale, User.status == UserStatus.ACTIVE, User.id != exclude
            )
        )
        return [user.id for user in users if "helper" in user.roles]

    async def admins(self) -> list[int]:
        """Active admins (who may promote answers)."""
        users = await self.session.scalars(select(User).where(User.status == UserStatus.ACTIVE))
        return [user.id for user in users if "admin" in user.roles]
