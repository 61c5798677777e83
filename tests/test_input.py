"""Hostile or broken text from clients is cleaned, or refused with a message saying what to fix."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.clean import MAX_TEXT_LENGTH, clean
from storage.models import HelperQuestion
from tests.support.chat import Person, texts


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("cook\u202eing", "cooking"),  # right-to-left override
        ("\u200bcooking\ufeff", "cooking"),  # zero-width space, byte-order mark
        ("cook\x00\x07ing\x1b[31m", "cooking[31m"),  # control characters
        ("bad \ud800 surrogate", "bad  surrogate"),  # an unpaired UTF-16 surrogate
        ("می\u200cخواهم", "می\u200cخواهم"),  # the Persian zero-width non-joiner stays
        ("👩\u200d👩\u200d👧", "👩\u200d👩\u200d👧"),  # so does the emoji joiner
        ("e\u0301", "é"),  # NFC
        ("line one\nline two", "line one\nline two"),
    ],
)
def test_clean_removes_invisible_trouble_makers_and_keeps_what_scripts_need(raw, expected):
    assert clean(raw) == expected


async def test_typed_text_reaches_handlers_cleaned(conversation):
    person = Person(conversation, user_id="6101")
    await person.onboard("en")
    await person.command("ask", "where can I play \u202echess\u2066 \x00on sundays")
    await person.press("ask:human")

    async with conversation.sessionmaker() as session:
        [question] = list(await session.scalars(select(HelperQuestion)))
    assert question.question == "where can I play chess on sundays"


async def test_over_long_text_is_refused_with_the_limit_and_changes_nothing(conversation):
    person = Person(conversation, user_id="6102", language_code="de")
    await person.onboard("de")
    await person.press("menu:ask")

    replies = await person.text("x" * (MAX_TEXT_LENGTH + 1))

    assert "2.000" in texts(replies), "the limit, formatted for German"
    async with conversation.sessionmaker() as session:
        assert list(await session.scalars(select(HelperQuestion))) == []
