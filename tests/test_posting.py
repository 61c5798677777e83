"""Coordinators post through a stored flow, and can only touch their own organisation's work."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.conversation import Conversation
from storage.models import Flow, Opportunity, OpportunityStatus, OpportunityText
from tests.support.chat import Person, buttons, texts, toasts
from tests.support.opportunities import City, make_coordinator, seed_city


@pytest.fixture
async def city(conversation: Conversation) -> City:
    return await seed_city(conversation)


async def coordinator(conversation: Conversation, city: City, locale: str = "en") -> Person:
    person = Person(conversation, user_id="5001", language_code=locale)
    await person.onboard(locale)
    await make_coordinator(conversation, "5001", city.organisations["colori"])
    return person


async def opportunity_rows(conversation: Conversation) -> list[Opportunity]:
    async with conversation.sessionmaker() as session:
        return list(await session.scalars(select(Opportunity).order_by(Opportunity.id)))


async def test_posting_walks_every_step_validates_and_publishes(conversation, city):
    person = await coordinator(conversation, city)

    assert "title" in texts(await person.command("post"))
    too_short = await person.text("Hi")
    assert "3 to 100 characters" in texts(too_short) and "yours has 2" in texts(too_short)
    await person.text("Bike repair workshop")
    await person.text("Fix bikes with newcomers so that everyone can get around the city.")
    await person.press("post:cat:other")
    await person.press("post:skill:repairs")
    skills = await person.press("post:next")
    assert "Which languages" in texts(skills)
    assert toasts(await person.press("post:next")) == ["Please tick at least one language."]
    await person.press("post:lang:it")
    await person.press("post:lang:ar")
    await person.press("post:next")
    await person.press(f"post:area:{city.areas['Vigne']}")
    await person.press("post:when:once")
    bad_date = await person.text("next friday")
    assert "24/01/2027 15:30" in texts(bad_date)
    past = await person.text("01/01/2020 10:00")
    assert "already passed" in texts(past)
    await person.text("٢٤/٠١/٢٠٣٠ ١٥:٣٠")  # Arabic-Indic digits are fine
    assert "whole number" in texts(await person.text("lots"))
    await person.text("8")
    preview = await person.text("bikes@ponte.example")

    assert "Preview" in texts(preview)
    assert "Bike repair workshop" in texts(preview) and "Vigne" in texts(preview)
    assert "2030" in texts(preview) and "8 places left" in texts(preview)
    published = await person.press("post:publish")
    assert toasts(published) == ["Published!"]

    [*_, row] = await opportunity_rows(conversation)
    assert row.status is OpportunityStatus.PUBLISHED and row.capacity == 8
    assert row.organisation_id == city.organisations["colori"] and row.source_locale == "en"
    async with conversation.sessionmaker() as session:
        assert await session.get(Flow, row.created_by) is None, "the flow is closed"
    newcomer = Person(conversation, user_id="5002")
    await newcomer.onboard("en")
    assert "Bike repair workshop" in buttons(await newcomer.press("vol:list:other-0"))


async def test_the_flow_survives_a_restart_of_the_bot(conversation, city, settings, catalog):
    person = await coordinator(conversation, city)
    await person.command("post")
    await person.text("Reading club")

    restarted = Conversation(settings, catalog, conversation.sessionmaker)
    replies = await Person(restarted, user_id="5001").text("We read stories with children.")

    assert "Which category" in texts(replies)


async def test_editing_from_the_preview_returns_to_the_preview(conversation, city):
    person = await coordinator(conversation, city)
    mine = await person.command("mine")
    homework = city.opportunities["homework"]
    assert f"org:show:{homework}" in buttons(mine).values()

    await person.press(f"org:show:{homework}")
    preview = await person.press(f"org:edit:{homework}")
    assert "Homework club" in texts(preview)
    await person.press("post:edit:title")
    again = await person.text("Homework club for teenagers")
    assert "Preview" in texts(again)
    await person.press("post:publish")

    async with conversation.sessionmaker() as session:
        titles = dict(
            (await session.execute(
                select(OpportunityText.locale, OpportunityText.title)
                .where(OpportunityText.opportunity_id == homework)
            )).all()
        )  # fmt: skip
    assert titles["en"] == "Homework club for teenagers"
    assert titles["it"] == "Doposcuola" and "ar" in titles, "other languages are kept"


async def test_a_coordinator_cannot_touch_another_organisations_opportunity(conversation, city):
    person = await coordinator(conversation, city)
    theirs = city.opportunities["cleanup"]  # run by "ponte"
    before = [(row.id, row.status, row.capacity) for row in await opportunity_rows(conversation)]

    for data in (f"org:show:{theirs}", f"org:edit:{theirs}", f"org:close:{theirs}",
                 f"org:people:{theirs}"):  # fmt: skip
        replies = await person.press(data)
        assert "expired" in texts(replies), data

    after = [(row.id, row.status, row.capacity) for row in await opportunity_rows(conversation)]
    assert after == before


async def test_a_coordinator_closes_their_own_and_sees_who_signed_up(conversation, city):
    person = await coordinator(conversation, city)
    volunteer = Person(conversation, user_id="5003")
    await volunteer.onboard("en")
    homework = city.opportunities["homework"]
    await volunteer.press(f"vol:yes:{homework}:all-0")

    people = await person.press(f"org:people:{homework}")
    assert "1 person signed up." in texts(people) and "tg://user?id=5003" in texts(people)

    closed = await person.press(f"org:close:{homework}")
    assert toasts(closed) == ["Closed. Newcomers no longer see it."]
    assert "no longer open" in texts(await volunteer.press(f"vol:card:{homework}:all-0"))


async def test_people_without_the_role_are_refused_everywhere(conversation, city):
    person = Person(conversation, user_id="5004")
    await person.onboard("en")

    for replies in (
        await person.command("post"),
        await person.command("mine"),
        await person.press("post:publish"),
        await person.press(f"org:close:{city.opportunities['homework']}"),
    ):
        assert "Only coordinators" in texts(replies)
    assert all(
        row.status is not OpportunityStatus.ARCHIVED for row in await opportunity_rows(conversation)
    )
