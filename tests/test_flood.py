"""Flood control: one person sending too fast gets one notice, then silence; others carry on."""

from __future__ import annotations

from datetime import UTC, timedelta

from sqlalchemy import event, select, update

from bot.conversation import Conversation
from storage.models import User, utcnow
from tests.support.chat import Person, texts


async def test_a_flood_gets_one_localized_notice_and_others_are_unaffected(conversation):
    strict = conversation.settings.model_copy(update={"flood_max_updates": 5, "flood_period": 60.0})
    guarded = Conversation(strict, conversation.catalog, conversation.sessionmaker)
    spammer = Person(guarded, user_id="6001", language_code="tr")
    await spammer.onboard("tr")  # three updates
    neighbour = Person(guarded, user_id="6002")

    answers = [await spammer.text(f"spam {n}") for n in range(30)]

    answered = [replies for replies in answers if replies]
    assert len(answered) == 3, "two more answers, then one notice, then nothing"
    assert "🐢" in texts(answered[-1]) and "fast" not in texts(answered[-1]), "said in Turkish"
    assert texts(await neighbour.command("start")), "someone else is answered as usual"
    async with conversation.sessionmaker() as session:
        spammer_row = await session.scalar(select(User).where(User.channel_user_id == "6001"))
    assert spammer_row is not None and spammer_row.locale == "tr"


async def test_dropped_updates_touch_nothing_in_the_database(conversation):
    strict = conversation.settings.model_copy(update={"flood_max_updates": 5, "flood_period": 60.0})
    guarded = Conversation(strict, conversation.catalog, conversation.sessionmaker)
    spammer = Person(guarded, user_id="6003")
    await spammer.onboard("en")  # three updates
    assert texts(await spammer.text("cooking")) and texts(await spammer.text("chess"))
    long_ago = utcnow() - timedelta(days=400)
    async with conversation.sessionmaker() as session:
        await session.execute(update(User).values(last_seen_at=long_ago))
        await session.commit()
    statements: list[str] = []

    def record(_connection, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement.split()[0].upper())

    engine = conversation.sessionmaker.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        notice = await spammer.text("spam 0")
        warned = list(statements)
        dropped = [await spammer.text(f"spam {n}") for n in range(1, 20)]
    finally:
        event.remove(engine, "before_cursor_execute", record)

    assert "🐢" in texts(notice) and dropped == [[]] * 19
    assert set(warned) == {"SELECT"}, "the notice only reads"
    assert statements == warned, "the dropped updates ran no SQL at all"
    async with conversation.sessionmaker() as session:
        seen = await session.scalar(select(User.last_seen_at).where(User.channel_user_id == "6003"))
    assert seen is not None and seen.replace(tzinfo=UTC) == long_ago, "not even 'last seen' moved"
