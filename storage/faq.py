"""FAQ entries: saved from content packs or promoted from helpers' answers, searched per locale."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import FaqEntry, FaqText
from storage.search import Hit, SearchIndex

FaqTexts = dict[str, tuple[str, list[str], str]]  # locale -> (question, phrasings, answer)


@dataclass(frozen=True)
class FaqAnswer:
    """An entry as a reader sees it: in their language, else the source language."""

    id: int
    locale: str
    question: str
    answer: str
    service_ids: tuple[str, ...]


class FaqRepository:
    """Reads and writes FAQ entries inside the caller's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def save(
        self,
        external_id: str | None,
        category: str,
        source_locale: str,
        texts: FaqTexts,
        service_ids: list[str] | None = None,
        *,
        promoted_from: int | None = None,
    ) -> int:
        """Create or update an entry (by content-pack id when it has one) and index it."""
        entry = None
        if external_id is not None:
            entry = await self.session.scalar(
                select(FaqEntry).where(FaqEntry.external_id == external_id)
            )
        if entry is None:
            entry = FaqEntry(external_id=external_id, promoted_from=promoted_from)
            self.session.add(entry)
        entry.category, entry.source_locale = category, source_locale
        entry.service_ids = list(service_ids or [])
        await self.session.flush()
        await self.session.execute(delete(FaqText).where(FaqText.entry_id == entry.id))
        self.session.add_all(
            FaqText(entry_id=entry.id, locale=locale, question=q, phrasings=p, answer=a)
            for locale, (q, p, a) in texts.items()
        )
        await SearchIndex(self.session).replace(
            "faq",
            entry.id,
            {locale: "\n".join([q, *p, a]) for locale, (q, p, a) in texts.items()},
        )
        return entry.id

    async def search(self, query: str, locale: str, limit: int = 3) -> list[Hit]:
        """The best entries for a question, the reader's language first."""
        return await SearchIndex(self.session).search("faq", query, locale, limit=limit)

    async def answer(self, entry_id: int, locale: str) -> FaqAnswer | None:
        """An entry in `locale`, else in its source language."""
        entry = await self.session.get(FaqEntry, entry_id)
        if entry is None:
            return None
        texts = {
            text.locale: text
            for text in await self.session.scalars(
                select(FaqText).where(FaqText.entry_id == entry_id)
            )
        }
        text = (
            texts.get(locale) or texts.get(entry.source_locale) or next(iter(texts.values()), None)
        )
        if text is None:
            return None
        return FaqAnswer(
            entry.id, text.locale, text.question, text.answer, tuple(entry.service_ids)
        )

    async def category(self, entry_id: int) -> str | None:
        """An entry's category."""
        return await self.session.scalar(select(FaqEntry.category).where(FaqEntry.id == entry_id))

    async def rate(self, entry_id: int, helpful: bool) -> None:
        """Count an anonymous 'Was this helpful?' answer."""
        entry = await self.session.get(FaqEntry, entry_id)
        if entry is not None:
            if helpful:
                entry.helpful += 1
            else:
                entry.unhelpful += 1
