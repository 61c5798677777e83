"""Flood control: one person sending too fast gets one notice, then silence; others carry on."""

from __future__ import annotations

from sqlalchemy import select

from bot.conversation import Conversation
from storage.models import User
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
