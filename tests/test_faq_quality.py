"""The FAQ search's quality bar, on questions written the way newcomers type them."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml
from sqlalchemy import select

from bot.content import import_pack, load_pack
from storage.db import create_engine, create_sessionmaker, migrate
from storage.faq import FaqRepository
from storage.models import FaqEntry

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "tests" / "data" / "questions.yaml"
TOP_3_BAR = 0.90


async def test_the_right_answer_is_in_the_top_3_for_at_least_90_percent(settings):
    questions = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))
    assert len(questions) >= 150
    assert len(Counter(question["locale"] for question in questions)) >= 8
    engine = create_engine(settings.database_url)
    await migrate(engine)
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as session:
        await import_pack(session, load_pack(ROOT / "content" / "cesena.yaml"))
        await session.commit()

    found: Counter[str] = Counter()
    asked: Counter[str] = Counter()
    misses = []
    async with sessionmaker() as session:
        ids = {entry.external_id: entry.id for entry in await session.scalars(select(FaqEntry))}
        faq = FaqRepository(session)
        for question in questions:
            hits = await faq.search(question["text"], question["locale"], limit=3)
            asked[question["locale"]] += 1
            if ids[question["expect"]] in [hit.item_id for hit in hits]:
                found[question["locale"]] += 1
            else:
                misses.append(f"{question['locale']}: {question['text']} → {question['expect']}")
    await engine.dispose()

    share = sum(found.values()) / sum(asked.values())
    assert share >= TOP_3_BAR, f"top-3 {share:.1%}; misses:\n" + "\n".join(misses)
