"""/forget leaves nothing keyed to the person in any table, including tables added later."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.conversation import Conversation
from bot.housekeeping import (
    RELAYED_QUESTIONS_KEPT,
    purge_inactive_users,
    purge_relayed_questions,
)
from bot.turn import Document
from handlers import fallback
from storage.db import create_engine, create_sessionmaker, migrate
from storage.models import Base, HelperQuestion, QuestionStatus, User, utcnow
from storage.opportunities import OpportunityData, OpportunityRepository
from storage.pseudonyms import Pseudonyms
from storage.users import UserRepository
from tests.support.chat import Person, texts
from tests.support.opportunities import make_coordinator, seed_city

PERSON_ID = "9070707"  # distinctive, so any copy of it in any column is found


async def rows_mentioning(conversation: Conversation, user_id: int) -> list[str]:
    """Every row, in every table of the metadata, that points at or quotes the person."""
    found = []
    async with conversation.sessionmaker() as session:
        for table in Base.metadata.sorted_tables:
            keyed = [
                column.name
                for column in table.columns
                if any(key.column.table.name == "users" for key in column.foreign_keys)
                or (table.name == "users" and column.name == "id")
            ]
            for row in (await session.execute(select(table))).mappings():
                if any(row[name] == user_id for name in keyed):
                    found.append(f"{table.name}: {dict(row)}")
                elif PERSON_ID in str(dict(row)):
                    found.append(f"{table.name} quotes the account: {dict(row)}")
    return found


async def test_forget_leaves_nothing_about_the_person_in_any_table(conversation):
    city = await seed_city(conversation)
    coordinator = Person(conversation, user_id="9000001")
    await coordinator.onboard("it")
    await make_coordinator(conversation, "9000001", city.organisations["colori"])
    helper = Person(conversation, user_id="9000002", language_code="ar")
    await helper.onboard("ar")

    person = Person(conversation, user_id=PERSON_ID, language_code="ar")
    await person.onboard("ar")
    await person.press("prefs:skill:cooking")
    await person.press(f"prefs:area:{city.areas['Vigne']}")
    await person.press("vol:follow:food-0")
    await person.press(f"vol:yes:{city.opportunities['cleanup']}:all-0")  # + reminder, + notice
    await person.command("ask", "أين أتعلم الشطرنج")
    await person.press("ask:human")
    await person.command("suggest")  # a suggestion waiting for moderators
    for answer in ("مطبخ الحساء", "نطبخ للجيران", "ساحة السوق", "كل أحد", "@soup"):
        await person.text(answer)
    await person.press("sub:send")
    await person.press("menu:volunteer")  # an open flow
    async with conversation.sessionmaker() as session:
        user = await session.scalar(select(User).where(User.channel_user_id == PERSON_ID))
        assert user is not None
        user_id = user.id
    traces = await rows_mentioning(conversation, user_id)
    assert len(traces) >= 8, "the person left traces"
    assert any(trace.startswith("submissions:") for trace in traces), "including a suggestion"

    await person.command("forget")
    await person.press("forget:yes")

    assert await rows_mentioning(conversation, user_id) == []
    async with conversation.sessionmaker() as session:
        others = list(await session.scalars(select(User.channel_user_id)))
    assert sorted(others) == ["9000001", "9000002"], "other people are untouched"


async def test_retention_forgets_inactive_people_and_finished_relayed_questions(conversation):
    stale, fresh = Person(conversation, user_id="9100001"), Person(conversation, user_id="9100002")
    for someone in (stale, fresh):
        await someone.onboard("en")
        await someone.command("ask", "where can I play chess on sundays")
        await someone.press("ask:human")
    async with conversation.sessionmaker() as session:
        users = {user.channel_user_id: user for user in await session.scalars(select(User))}
        users["9100001"].last_seen_at = utcnow() - timedelta(days=400)
        questions = list(await session.scalars(select(HelperQuestion).order_by(HelperQuestion.id)))
        questions[1].status = QuestionStatus.RATED
        await session.commit()

    async with conversation.sessionmaker() as session:
        await purge_inactive_users(365)(session)
        await purge_relayed_questions(session)
        await session.commit()

    async with conversation.sessionmaker() as session:
        assert list(await session.scalars(select(User.channel_user_id))) == ["9100002"]
        assert list(await session.scalars(select(HelperQuestion))) == [], (
            "the stale person's question went with them; the rated one was deleted"
        )


async def test_mydata_sends_everything_about_the_person_and_nothing_about_others(conversation):
    city = await seed_city(conversation)
    other = Person(conversation, user_id="9200001")
    await other.onboard("it")
    await other.press("prefs:skill:music")
    await other.press(f"vol:yes:{city.opportunities['tandem']}:all-0")
    person = Person(conversation, user_id=PERSON_ID, language_code="ar")
    await person.onboard("ar")
    await person.press("prefs:skill:cooking")
    await person.press(f"prefs:area:{city.areas['Vigne']}")
    await person.press("vol:follow:food-0")
    await person.press(f"vol:yes:{city.opportunities['cleanup']}:all-0")
    await person.command("ask", "أين أتعلم الشطرنج")
    await person.press("ask:human")

    [document] = [reply for reply in await person.command("mydata") if isinstance(reply, Document)]

    data = json.loads(document.content)
    assert data["profile"]["account"] == PERSON_ID and data["profile"]["language"] == "ar"
    assert data["skills"] == ["cooking"] and data["areas"] == ["Vigne"]
    assert data["follows"] == [{"category": "food", "area": None}]
    assert [signup["opportunity"] for signup in data["sign_ups"]] != []
    assert data["questions_to_volunteers"][0]["question"] == "أين أتعلم الشطرنج"
    assert "9200001" not in document.content.decode() and "music" not in document.content.decode()
    assert "/forget" in document.caption


async def test_sql_parameters_stay_out_of_errors_and_logs(conversation, caplog):
    secret = "Amira-secret-8177"
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    async with conversation.sessionmaker() as session:
        session.add(User(channel="telegram", channel_user_id="9300001", public_name=secret))
        await session.commit()
    async with conversation.sessionmaker() as session:
        session.add(User(channel="telegram", channel_user_id="9300001", public_name=secret))
        with pytest.raises(IntegrityError) as failure:
            await session.commit()

    assert "INSERT INTO users" in str(failure.value), "the statement itself is still reported"
    assert secret not in str(failure.value)
    assert any("INSERT INTO users" in record.getMessage() for record in caplog.records)
    assert secret not in caplog.text


async def test_retention_deletes_unrated_relayed_questions_after_30_days(conversation):
    asker = Person(conversation, user_id="9400001")
    await asker.onboard("en")
    for question in ("where can I play chess on sundays", "where can I learn to swim"):
        await asker.command("ask", question)
        await asker.press("ask:human")
    async with conversation.sessionmaker() as session:
        old, recent = list(
            await session.scalars(select(HelperQuestion).order_by(HelperQuestion.id))
        )
        old.created_at = utcnow() - RELAYED_QUESTIONS_KEPT - timedelta(hours=1)
        old.answer, old.status = "At the library, on Sundays.", QuestionStatus.ANSWERED  # unrated
        recent.created_at = utcnow() - RELAYED_QUESTIONS_KEPT + timedelta(hours=1)
        await session.commit()

    async with conversation.sessionmaker() as session:
        await purge_relayed_questions(session)
        await session.commit()

    async with conversation.sessionmaker() as session:
        kept = list(await session.scalars(select(HelperQuestion.question)))
        assert await session.scalar(select(User.id).where(User.channel_user_id == "9400001"))
    assert kept == ["where can I learn to swim"], "the month-old question and its answer are gone"


async def test_a_failing_turn_logs_its_error_id_but_no_text_token_or_phone(
    conversation, caplog, monkeypatch
):
    token = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw9"
    secret = "my number is +39 347 555 0199, the code word is Zebra-Quokka-7781"
    core = Conversation(
        conversation.settings.model_copy(update={"bot_token": token}),
        conversation.catalog,
        conversation.sessionmaker,
    )
    person = Person(core, user_id="9500001")
    await person.onboard("en")

    async def broken(turn):  # type: ignore[no-untyped-def]
        raise RuntimeError("the handler broke")

    monkeypatch.setattr(fallback, "not_understood", broken)
    caplog.set_level(logging.INFO)
    replies = await person.text(secret)

    error_id = texts(replies).split("(")[1].split(")")[0].split()[-1]
    logged = caplog.text
    assert f"error {error_id}" in logged and "RuntimeError: the handler broke" in logged
    assert "Zebra-Quokka" not in logged and "my number is" not in logged
    assert token not in logged and token.split(":")[1] not in logged
    assert re.search(r"\+?\d[\d ]{8,}\d", logged) is None, "nothing that looks like a phone"


async def test_mydata_covers_helping_posting_queued_messages_and_audited_actions(conversation):
    city = await seed_city(conversation)
    person = Person(conversation, user_id=PERSON_ID)
    await person.onboard("en")
    other = Person(conversation, user_id="9600001")
    await other.onboard("en")
    async with conversation.sessionmaker() as session:
        users = UserRepository(session)
        me = await users.find("telegram", PERSON_ID)
        assert me is not None
        await users.grant_role(me, "admin")
        await users.grant_role(me, "helper")
        await OpportunityRepository(session).save(
            OpportunityData(
                organisation_id=city.organisations["ponte"], category="food", source_locale="it",
                city="Cesena", texts={"it": ("Cena di quartiere", "", "")},
            ),
            created_by=me.id,
        )  # fmt: skip
        await session.commit()
    await make_coordinator(conversation, "9600001", city.organisations["ponte"])
    await person.press(f"vol:yes:{city.opportunities['cleanup']}:all-0")  # + their reminder
    await other.command("ask", "where can I play chess on sundays")
    await other.press("ask:human")
    async with conversation.sessionmaker() as session:
        [question] = list(await session.scalars(select(HelperQuestion)))
    await person.press(f"hq:take:{question.id}")
    await person.text("At the Torre Bianca club, Sundays at 3pm.")
    await person.command("grant")
    invite = texts(await person.press("roles:new:helper"))
    await other.command("start", re.search(r"start=(r[A-Za-z0-9_-]+)", invite)[1])  # type: ignore[index]

    [document] = [reply for reply in await person.command("mydata") if isinstance(reply, Document)]

    data = json.loads(document.content)
    assert data["answers_written_as_helper"] == [
        {"answer": "At the Torre Bianca club, Sundays at 3pm.", "language": "en",
         "status": "answered", "answered": data["answers_written_as_helper"][0]["answered"]}
    ]  # fmt: skip
    assert [(o["title"], o["status"]) for o in data["opportunities_created"]] == [
        ("Cena di quartiere", "draft")
    ]
    assert {"kind": "reminder", "status": "queued"} in data["messages_sent_or_queued"]
    kinds = {item["kind"] for item in data["messages_sent_or_queued"]}
    assert kinds == {"reminder", "question", "review"}, "not the coordinator's sign-up notice"
    assert [entry["action"] for entry in data["audited_actions"]] == ["role.invite", "role.grant"]
    assert data["audited_actions"][1]["details"] == {"role": "helper", "organisation": None}
    text = document.content.decode()
    assert "9600001" not in text and "chess" not in text, "not the asker's account or question"
    async with conversation.sessionmaker() as session:
        theirs = await UserRepository(session).find("telegram", "9600001")
        assert theirs is not None
        code = (await Pseudonyms.load(session)).of(theirs)
    assert code not in text, "not even the pseudonym of whom they invited"


async def test_staff_see_codes_that_no_one_can_work_out_from_an_account_id(conversation, tmp_path):
    person = Person(conversation, user_id=PERSON_ID, language_code="ar")
    await person.onboard("ar")
    async with conversation.sessionmaker() as session:
        user = await UserRepository(session).find("telegram", PERSON_ID)
        assert user is not None
        code = (await Pseudonyms.load(session)).of(user)
    async with conversation.sessionmaker() as session:
        again = (await Pseudonyms.load(session)).of(user)
    other = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'elsewhere.db'}")
    await migrate(other)
    async with create_sessionmaker(other)() as session:
        elsewhere = (await Pseudonyms.load(session)).of(user)
    await other.dispose()

    plain_hash = "#" + hashlib.sha256(f"telegram:{PERSON_ID}".encode()).hexdigest()[:6]
    assert code == again, "one person keeps one code"
    assert code != plain_hash, "the code is keyed, not a hash anyone can compute"
    assert code != elsewhere, "each installation has its own key"
