"""Content packs: whole-file validation with exact locations, imports that update, the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.content import PROGRESS_FROM, ContentError, import_pack, load_pack, progress_bar
from bot.i18n import SHIPPED_LOCALES
from storage.db import create_engine, create_sessionmaker, migrate
from storage.faq import FaqRepository
from storage.models import FaqEntry, FaqText, Opportunity, OpportunityText, Organisation, Signup
from storage.opportunities import OpportunityRepository
from storage.questions import QuestionRepository
from storage.users import UserRepository
from tests.support.chat import Person, texts

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_PACK = ROOT / "content" / "cesena.yaml"
HEADER = ",".join(
    ("id", "organisation", "organisation_name", "city", "category", "skills", "languages", "area",
     "when", "capacity", "title_it", "title_en", "description_it")
)  # fmt: skip
GOOD_ROWS = [
    ",".join(row)
    for row in (
        ("orti", "verde", "Verde Insieme", "Cesena", "environment", "gardening", "it en", "Vigne",
         "weekly sat 09:30", "10", "Orti condivisi", "Shared gardens", "Coltiviamo insieme."),
        ("tandem", "ponte", "Il Ponte", "Cesena", "language", "languages", "it uk",
         "Centro storico", "flexible", "", "Tandem", "Language tandem", "Parliamo."),
        ("cena", "ponte", "Il Ponte", "Cesena", "food", "cooking", "it ar", "Oltre Savio",
         "once 2031-03-14 19:00", "", "Cena insieme", "Dinner together", "Cuciniamo."),
    )
]  # fmt: skip


def write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def import_file(database_url: str, path: Path):
    engine = create_engine(database_url)
    await migrate(engine)
    async with create_sessionmaker(engine)() as session:
        report = await import_pack(session, load_pack(path))
        await session.commit()
    await engine.dispose()
    return report


async def count(database_url: str, model) -> int:
    engine = create_engine(database_url)
    async with create_sessionmaker(engine)() as session:
        total = await session.scalar(select(func.count()).select_from(model))
    await engine.dispose()
    return total or 0


async def test_a_csv_imports_and_a_reimport_updates_instead_of_duplicating(settings, tmp_path):
    first = write(tmp_path, "city.csv", [HEADER, *GOOD_ROWS])
    report = await import_file(settings.database_url, first)
    assert (report.created, report.updated, len(report.published)) == (3, 0, 3)

    changed = [HEADER, GOOD_ROWS[0].replace("Shared gardens", "Community gardens"), *GOOD_ROWS[1:]]
    again = await import_file(settings.database_url, write(tmp_path, "city2.csv", changed))

    assert (again.created, again.updated, again.published) == (0, 3, [])
    assert await count(settings.database_url, Opportunity) == 3
    assert await count(settings.database_url, Organisation) == 2
    engine = create_engine(settings.database_url)
    async with create_sessionmaker(engine)() as session:
        titles = set(await session.scalars(select(OpportunityText.title)))
    await engine.dispose()
    assert "Community gardens" in titles and "Shared gardens" not in titles


async def test_one_bad_row_rejects_the_whole_csv_with_a_clear_report(settings, tmp_path):
    bad = GOOD_ROWS[1].replace("language,languages", "langauge,languages")
    path = write(
        tmp_path, "city.csv", [HEADER, GOOD_ROWS[0], bad, GOOD_ROWS[2].replace("19:00", "7pm")]
    )

    with pytest.raises(ContentError) as error:
        load_pack(path)

    report = str(error.value)
    assert f"{path}, row 3, field category: 'langauge' is not a category" in report
    assert f"{path}, row 4, field when" in report and "YYYY-MM-DD HH:MM" in report
    engine = create_engine(settings.database_url)
    await migrate(engine)
    await engine.dispose()
    assert await count(settings.database_url, Opportunity) == 0, "nothing imported"


def test_yaml_errors_name_the_file_line_and_field(tmp_path):
    path = write(tmp_path, "city.yaml", [
        "city: Cesena",
        "organisations:",
        "  - id: ponte",
        "    name: Il Ponte",
        "opportunities:",
        "  - id: orti",
        "    organisation: ponte",
        "    category: environment",
        "    skills: [gardening, juggling]",
        "    area: Vigne",
        "    when: flexible",
        "    title: {it: Orti}",
        "  - id: altro",
        "    organisation: nessuno",
        "    category: other",
        "    area: Vigne",
        "    when: {weekly: [sat], time: '25:00'}",
        "    title: {it: Altro}",
    ])  # fmt: skip

    with pytest.raises(ContentError) as error:
        load_pack(path)

    report = str(error.value)
    assert f"{path}, line 9, field opportunities.0.skills.1: 'juggling' is not a skill" in report
    assert f"{path}, line 17, field opportunities.1.when.time" in report


def test_the_sample_city_pack_is_valid_and_rich():
    pack = load_pack(ROOT / "content" / "cesena.yaml")

    assert len(pack.opportunities) >= 25
    assert {entry.category for entry in pack.opportunities} >= {
        "social",
        "education",
        "language",
        "food",
    }
    for entry in pack.opportunities:
        assert {"it", "en"} <= set(entry.title) and {"it", "en"} <= set(entry.description)


def test_the_import_command_reports_problems_without_a_traceback(tmp_path):
    path = write(
        tmp_path, "broken.csv", [HEADER, GOOD_ROWS[0].replace("Cesena,environment", "Cesena,")]
    )

    result = subprocess.run(
        [sys.executable, "-m", "bot", "content", "import", str(path)],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
        env={"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}", "PATH": ""},
    )  # fmt: skip

    assert result.returncode == 2
    assert "row 2, field category" in result.stderr and "Traceback" not in result.stderr


def test_service_and_faq_errors_name_the_file_line_and_field(tmp_path):
    path = write(tmp_path, "city.yaml", [
        "city: Cesena",
        "services:",
        "  - id: anagrafe",
        "    category: registration",
        "    name: {it: Anagrafe}",
        "    hours:",
        "      - {days: [mon], open: '12:00', close: '08:00'}",
        "    phone: call me maybe",
        "faq:",
        "  - id: residenza",
        "    category: registration",
        "    services: [questura]",
        "    question: {it: 'Come faccio la residenza?'}",
        "    answer: {xx: boh}",
    ])  # fmt: skip

    with pytest.raises(ContentError) as error:
        load_pack(path)

    report = str(error.value)
    assert f"{path}, line 7, field services.0.hours.0: close must be later than open" in report
    assert f"{path}, line 8, field services.0.phone" in report
    assert f"{path}, line 14, field faq.0.answer.xx" in report
    assert "'xx' is not a shipped locale" in report


def test_the_sample_pack_speaks_every_shipped_language():
    pack = load_pack(SAMPLE_PACK)
    everywhere = set(SHIPPED_LOCALES)

    titled = [entry.id for entry in pack.opportunities if everywhere <= set(entry.title)]
    answered = [
        item.id
        for item in pack.faq
        if everywhere <= {locale for locale, text in item.question.items() if text.strip()}
        and everywhere <= {locale for locale, text in item.answer.items() if text.strip()}
    ]

    assert len(titled) >= 30, f"only {len(titled)} opportunities have a title in every language"
    assert len(answered) >= 40, f"only {len(answered)} FAQ entries are answered in every language"


def csv_rows(count: int) -> list[str]:
    """A header and `count` distinct opportunities."""
    return [HEADER, *(GOOD_ROWS[1].replace("tandem,", f"tandem-{n},", 1) for n in range(count))]


@pytest.mark.parametrize("rows", [PROGRESS_FROM - 1, PROGRESS_FROM])
async def test_a_large_import_shows_a_progress_bar_and_a_small_one_does_not(
    settings, tmp_path, capsys, rows
):
    pack = load_pack(write(tmp_path, "city.csv", csv_rows(rows)))
    engine = create_engine(settings.database_url)
    await migrate(engine)
    async with create_sessionmaker(engine)() as session:
        report = await import_pack(session, pack, progress_bar)
        await session.commit()
    await engine.dispose()

    shown = capsys.readouterr().err
    assert report.created == rows
    if rows < PROGRESS_FROM:
        assert shown == ""
    else:
        frames = shown.split("\r")[1:]
        assert len(frames) == rows, "one update per row, redrawn in place"
        assert frames[0].startswith("[...") and frames[0].endswith(f"] 1/{rows}")
        assert frames[rows // 2].startswith("[###############...")
        assert frames[-1] == f"[{'#' * 30}] {rows}/{rows}\n", "the bar ends full, on its own line"


async def test_reimporting_the_sample_pack_keeps_promoted_answers_and_sign_ups(conversation):
    async def import_sample() -> None:
        async with conversation.sessionmaker() as session:
            await import_pack(session, load_pack(SAMPLE_PACK))
            await session.commit()

    await import_sample()
    person = Person(conversation, user_id="5001", language_code="it")
    await person.onboard("it")
    async with conversation.sessionmaker() as session:
        walk = await OpportunityRepository(session).by_external_id("passeggiate-interculturali")
        assert walk is not None
    await person.press(f"vol:yes:{walk}:all-0")
    question, answer = "Dove gioco a scacchi la domenica?", "Al circolo Torre Bianca, alle 15."
    async with conversation.sessionmaker() as session:
        asker = await UserRepository(session).create("telegram", "5002", "it")
        item = await QuestionRepository(session).create(asker.id, "it", question)
        item.answer = answer
        await FaqRepository(session).save(
            None, "education", "it", {"it": (question, [], answer)}, promoted_from=item.id
        )
        await session.commit()
        entries_before = await session.scalar(select(func.count()).select_from(FaqEntry))

    await import_sample()

    async with conversation.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(FaqEntry)) == entries_before
        kept = await session.scalar(
            select(FaqText.answer).join(FaqEntry).where(FaqEntry.promoted_from == item.id)
        )
        [signup] = list(await session.scalars(select(Signup)))
    assert kept == answer
    assert (signup.opportunity_id, signup.withdrawn_at) == (walk, None)
    assert answer in texts(await person.command("ask", question)), "people still get the answer"


def test_pack_texts_are_cleaned_like_typed_text(tmp_path):
    path = write(tmp_path, "city.yaml", [
        "city: \"Cesena\\u200b\"",
        "organisations:",
        "  - id: ponte",
        "    name: \"Il \\u202ePonte\\u202c\"",
        "    contact: \"info@ponte.example\\x07\"",
        "opportunities:",
        "  - id: orti",
        "    organisation: ponte",
        "    category: environment",
        "    area: \"Vigne\\ufeff\"",
        "    address: \"Via Roma\\u2066 1\\u2069\"",
        "    when: flexible",
        "    title: {it: \"Orti\\u200b condivisi\\ud800\", fa: \"باغ\u200cهای مشترک\"}",
        "    description: {it: \"Riga uno\\nRiga\\x00 due\"}",
        "faq:",
        "  - id: orti-domanda",
        "    category: food",
        "    question: {it: \"Come partecipo?\\u200f\"}",
        "    phrasings: {it: [\"partecipare\\u061c\"]}",
        "    answer: {it: \"Scrivici\\u202a.\"}",
    ])  # fmt: skip

    pack = load_pack(path)

    [organisation], [entry], [item] = pack.organisations, pack.opportunities, pack.faq
    assert (pack.city, organisation.name, organisation.contact) == (
        "Cesena", "Il Ponte", "info@ponte.example",
    )  # fmt: skip
    assert (entry.area, entry.address) == ("Vigne", "Via Roma 1")
    assert entry.title == {"it": "Orti condivisi", "fa": "باغ\u200cهای مشترک"}, "ZWNJ is kept"
    assert entry.description == {"it": "Riga uno\nRiga due"}
    assert (item.question, item.phrasings, item.answer) == (
        {"it": "Come partecipo?"}, {"it": ["partecipare"]}, {"it": "Scrivici."},
    )  # fmt: skip


def test_a_text_that_is_only_invisible_characters_is_rejected_where_it_is(tmp_path):
    yaml_path = write(tmp_path, "city.yaml", [
        "city: Cesena",
        "organisations:",
        "  - id: ponte",
        "    name: Il Ponte",
        "opportunities:",
        "  - id: orti",
        "    organisation: ponte",
        "    category: environment",
        "    area: Vigne",
        "    when: flexible",
        "    title: {it: \"\\u200b\\u202e\\u2066\"}",
    ])  # fmt: skip
    csv_path = write(
        tmp_path, "city.csv", [HEADER, GOOD_ROWS[0].replace("Orti condivisi", "\u200b")]
    )

    with pytest.raises(ContentError) as yaml_error:
        load_pack(yaml_path)
    with pytest.raises(ContentError) as csv_error:
        load_pack(csv_path)

    assert f"{yaml_path}, line 11, field opportunities.0.title.it" in str(yaml_error.value)
    assert f"{csv_path}, row 2, field title.it" in str(csv_error.value)
