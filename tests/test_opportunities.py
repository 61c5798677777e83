"""Volunteering: categories, filters, cards in the reader's language, sign-ups and follows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.channels.telegram import TelegramSender
from bot.conversation import Conversation
from bot.delivery import DeliveryPolicy, DeliveryWorker
from bot.i18n import FIRST_STRONG_ISOLATE
from handlers.notifications import render
from storage.db import create_engine, create_sessionmaker
from storage.models import (
    Delivery,
    DeliveryStatus,
    Opportunity,
    OpportunityStatus,
    Schedule,
    Signup,
    User,
    utcnow,
)
from storage.opportunities import OpportunityData, OpportunityRepository
from tests.support.broadcasts import ManualClock
from tests.support.chat import Person, buttons, messages, texts, toasts
from tests.support.opportunities import City, make_coordinator, seed_city


@pytest.fixture
async def city(conversation: Conversation) -> City:
    return await seed_city(conversation)


async def newcomer(conversation: Conversation, locale: str = "en", user_id: str = "2001") -> Person:
    person = Person(conversation, user_id=user_id, language_code=locale)
    await person.onboard(locale)
    return person


def listed(replies) -> list[str]:
    """Titles of the opportunities on a list page."""
    return [label for label, data in buttons(replies).items() if data.startswith("vol:card:")]


async def deliveries(conversation: Conversation, kind: str | None = None) -> list[Delivery]:
    async with conversation.sessionmaker() as session:
        query = select(Delivery).order_by(Delivery.id)
        if kind is not None:
            query = query.where(Delivery.kind == kind)
        return list(await session.scalars(query))


async def rendered(conversation: Conversation, delivery: Delivery) -> str | None:
    """What the recipient of a queued delivery would read."""
    async with conversation.sessionmaker() as session:
        user = await session.get(User, delivery.user_id)
        assert user is not None
        translator = conversation.catalog.translator(user.locale)
        message = await render(delivery.kind, session, translator, user, delivery.payload)
        return None if message is None else message.text


async def test_volunteer_shows_categories_with_counts_of_open_opportunities(conversation, city):
    person = await newcomer(conversation)

    replies = await person.press("menu:volunteer")

    labels = buttons(replies)
    assert "📚 Education and homework help (2)" in labels
    assert "🗣 Language exchange (1)" in labels
    assert "🌐 All (5)" in labels, "the past one-off event is not counted"
    assert not any(label.startswith("🎉 Events") for label in labels)


async def test_a_category_lists_its_opportunities_in_the_readers_language(conversation, city):
    person = await newcomer(conversation)

    replies = await person.press("vol:list:education-0")

    assert listed(replies) == ["Homework club", "Biblioteca dei ragazzi"]
    assert "2 opportunities" in texts(replies) and "No filters on." in texts(replies)


async def test_lists_page_five_at_a_time(conversation, city):
    person = await newcomer(conversation)
    async with conversation.sessionmaker() as session:
        repository = OpportunityRepository(session)
        for number in range(7):
            await repository.save(
                OpportunityData(
                    organisation_id=city.organisations["colori"], category="sport",
                    source_locale="it", city="Cesena", texts={"it": (f"Calcio {number}", "", "")},
                ),
                status=OpportunityStatus.PUBLISHED,
            )  # fmt: skip
        await session.commit()

    first = await person.press("vol:list:sport-0")
    second = await person.press(buttons(first)["Next ▶️"])

    assert listed(first) == [f"Calcio {n}" for n in range(5)]
    assert "Page 1 of 2" in texts(first) and "◀️ Previous" not in buttons(first)
    assert listed(second) == ["Calcio 5", "Calcio 6"]
    assert "Page 2 of 2" in texts(second) and "Next ▶️" not in buttons(second)
    assert listed(await person.press(buttons(second)["◀️ Previous"])) == listed(first)


@pytest.mark.parametrize(
    ("view", "expected", "says"),
    [
        ("all-0-a{Oltre Savio}", ["Tandem linguistico"], "📍 Oltre Savio"),
        ("all-0-l", ["Tandem linguistico", "River clean-up"], "Speaks my language"),
        ("all-0-steaching", ["Homework club", "Biblioteca dei ragazzi"], "Teaching and tutoring"),
        ("all-0-wweekend", ["River clean-up", "Biblioteca dei ragazzi"], "At the weekend"),
        ("all-0-wevening", ["Tandem linguistico", "Cena multietnica", "Biblioteca dei ragazzi"],
         "Evenings"),
        ("all-0-a{Centro storico}-steaching-wweek", ["Homework club", "Biblioteca dei ragazzi"],
         "Centro storico · 🧰 Teaching and tutoring · 🕒 This week"),
        ("all-0-a{Vigne}-steaching", [], "Nothing matches all these filters"),
    ],
)  # fmt: skip
async def test_filters_combine_and_the_list_says_which_are_on(
    conversation, city, view, expected, says
):
    person = await newcomer(conversation, "en")
    for name, area_id in city.areas.items():
        view = view.replace("{" + name + "}", str(area_id))

    replies = await person.press(f"vol:list:{view}")

    assert sorted(listed(replies)) == sorted(expected)
    assert says in texts(replies)


async def test_speaks_my_language_uses_the_readers_locale(conversation, city):
    person = await newcomer(conversation, "uk")

    replies = await person.press("vol:list:all-0-l")

    assert listed(replies) == ["Tandem linguistico"]


async def test_the_filter_panel_toggles_filters(conversation, city):
    person = await newcomer(conversation)

    panel = await person.press("vol:filters:education-0")
    on = await person.press(buttons(panel)["▫️ Speaks my language"])
    panel_again = await person.press(buttons(on)["🎚 Filters"])

    assert "vol:list:education-0-l" in buttons(panel).values()
    assert "Filters on: 🗣 Speaks my language" in texts(on)
    assert "✅ Speaks my language" in buttons(panel_again)
    assert buttons(panel_again)["✖️ Clear all filters"] == "vol:list:education-0"


async def test_a_translated_card_shows_every_detail_in_the_readers_language(conversation, city):
    person = await newcomer(conversation, "ar")

    replies = await person.press(f"vol:card:{city.opportunities['homework']}:education-0")

    text = texts(replies)
    assert "نادي الواجبات" in text and "ساعد الأطفال" in text
    assert "Doposcuola" not in text
    assert f"{FIRST_STRONG_ISOLATE}Casa dei Colori" in text
    assert "الثلاثاء" in text and "الخميس" in text, "weekdays named by Babel in Arabic"
    assert f"{FIRST_STRONG_ISOLATE}+39 0547 000 100" in text
    assert "العربية" in text and "Italiano" in text, "languages spoken, by native name"
    assert "(in" not in text and "الإيطالية" not in text
    assert len(buttons(replies)) == 4  # I'm interested · Share (inline) · Send the link · Back


async def test_an_untranslated_card_falls_back_to_the_source_marked_with_its_language(
    conversation, city
):
    person = await newcomer(conversation, "de")

    replies = await person.press(f"vol:card:{city.opportunities['tandem']}:language-0")

    text = texts(replies)
    assert "Tandem linguistico" in text
    assert "(auf Italienisch)" in text or "Italienisch" in text


async def test_a_one_off_date_is_formatted_for_the_reader_in_the_citys_time_zone(
    conversation, city
):
    person = await newcomer(conversation, "it")

    replies = await person.press(f"vol:card:{city.opportunities['cleanup']}:all-0")

    # seeded at 09:00 UTC on a weekend day: 10:00 or 11:00 in Rome, depending on the season
    text = texts(replies)
    assert ("sabato" in text or "domenica" in text) and ("10:00" in text or "11:00" in text)


async def test_signing_up_asks_consent_first_then_notifies_the_coordinator_in_their_language(
    conversation, city
):
    coordinator = await newcomer(conversation, "tr", user_id="3001")
    await make_coordinator(conversation, "3001", city.organisations["colori"])
    person = await newcomer(conversation, "en")
    homework = city.opportunities["homework"]

    card = await person.press(f"vol:card:{homework}:education-0")
    ask = await person.press(buttons(card)["🙋 I'm interested"])
    assert "first name (" in texts(ask) and "Casa dei Colori" in texts(ask)
    async with conversation.sessionmaker() as session:
        assert list(await session.scalars(select(Signup))) == [], "nothing before consent"

    done = await person.press(buttons(ask)["✅ Yes, sign me up"])

    assert toasts(done) == ["Signed up!"]
    assert "You are signed up" in texts(done)
    assert "↩️ I can't come any more" in buttons(done)
    [notice] = await deliveries(conversation, "signup")
    coordinator_row = await conversation_user(conversation, coordinator.user_id)
    assert notice.user_id == coordinator_row.id
    text = await rendered(conversation, notice)
    assert text is not None and "Test" in text and "tg://user?id=2001" in text
    assert "New sign-up" not in text, "the coordinator reads it in Turkish"


async def conversation_user(conversation: Conversation, user_id: str) -> User:
    async with conversation.sessionmaker() as session:
        user = await session.scalar(select(User).where(User.channel_user_id == user_id))
        assert user is not None
        return user


async def test_declining_to_share_details_signs_nobody_up(conversation, city):
    person = await newcomer(conversation)
    homework = city.opportunities["homework"]

    ask = await person.press(f"vol:join:{homework}:education-0")
    back = await person.press(buttons(ask)["No, go back"])

    assert "🙋 I'm interested" in buttons(back)
    async with conversation.sessionmaker() as session:
        assert list(await session.scalars(select(Signup))) == []


async def test_a_full_activity_takes_no_more_sign_ups(conversation, city):
    homework = city.opportunities["homework"]  # capacity 2
    for user_id in ("2101", "2102"):
        person = await newcomer(conversation, user_id=user_id)
        await person.press(f"vol:yes:{homework}:education-0")
    late = await newcomer(conversation, user_id="2103")

    card = await late.press(f"vol:card:{homework}:education-0")
    forced = await late.press(f"vol:yes:{homework}:education-0")

    assert "Full at the moment" in texts(card) and "🙋 I'm interested" not in buttons(card)
    assert toasts(forced) == ["Sorry, it is full now."]
    async with conversation.sessionmaker() as session:
        assert len(list(await session.scalars(select(Signup)))) == 2


async def test_withdrawing_cancels_the_reminder_and_tells_the_coordinator(conversation, city):
    await newcomer(conversation, "it", user_id="3001")
    await make_coordinator(conversation, "3001", city.organisations["ponte"])
    person = await newcomer(conversation)
    cleanup = city.opportunities["cleanup"]
    await person.press(f"vol:yes:{cleanup}:all-0")
    [reminder] = await deliveries(conversation, "reminder")
    assert reminder.status is DeliveryStatus.QUEUED

    replies = await person.press(f"vol:leave:{cleanup}:all-0")

    assert toasts(replies) == ["Okay, you are no longer signed up."]
    assert "🙋 I'm interested" in buttons(replies)
    [reminder] = await deliveries(conversation, "reminder")
    assert reminder.status is DeliveryStatus.CANCELLED
    [withdrawal] = await deliveries(conversation, "withdrawal")
    text = await rendered(conversation, withdrawal)
    assert text is not None and "Test" in text and "Pulizia del fiume" in text
    assert await person.press(f"vol:leave:{cleanup}:all-0") != replies, "a second press expires"


async def test_a_dated_activity_queues_a_reminder_24_hours_before(conversation, city):
    person = await newcomer(conversation, "ar")
    cleanup = city.opportunities["cleanup"]

    done = await person.press(f"vol:yes:{cleanup}:all-0")

    [reminder] = await deliveries(conversation, "reminder")
    async with conversation.sessionmaker() as session:
        card = await OpportunityRepository(session).card(cleanup)
    assert card is not None and card.starts_at is not None
    due = reminder.due_at.replace(tzinfo=card.starts_at.tzinfo)
    assert (card.starts_at - due).total_seconds() == 24 * 3600
    assert "⏰" in (await rendered(conversation, reminder) or "")
    assert "🎉" in texts(done)


async def test_following_a_category_queues_new_opportunities_exactly_once(conversation, city):
    person = await newcomer(conversation)
    followed = await person.press("vol:follow:food-0")
    assert "🔕 Stop following" in buttons(followed)

    async with conversation.sessionmaker() as session:
        repository = OpportunityRepository(session)
        data = OpportunityData(
            organisation_id=city.organisations["ponte"], category="food", source_locale="it",
            city="Cesena", texts={"it": ("Banco alimentare", "", ""), "en": ("Food bank", "", "")},
        )  # fmt: skip
        new_id, published = await repository.save(data, status=OpportunityStatus.PUBLISHED)
        assert published
        await repository.notify_followers(new_id)
        again, published_again = await repository.save(
            data, opportunity_id=new_id, status=OpportunityStatus.PUBLISHED
        )
        assert again == new_id and not published_again
        await repository.notify_followers(new_id)
        await session.commit()

    [notice] = await deliveries(conversation, "opportunity")
    text = await rendered(conversation, notice)
    assert text is not None and "Food bank" in text and "🔔" in text


async def test_for_me_ranks_by_skills_areas_and_language(conversation, city):
    person = await newcomer(conversation, "en")
    empty = await person.press("vol:list:me-0")
    assert "🧰 My skills" in buttons(empty)

    await person.press("prefs:skill:cooking")
    await person.press(f"prefs:area:{city.areas['Oltre Savio']}")
    replies = await person.press("vol:list:me-0")

    # Tandem: my area and my language (English); the dinner: my skill (cooking)
    assert listed(replies)[:2] == ["Tandem linguistico", "Cena multietnica"]


async def test_typing_while_in_volunteer_searches(conversation, city):
    person = await newcomer(conversation, "en")
    await person.press("menu:volunteer")

    replies = await person.text("river")

    assert listed(replies) == ["River clean-up"]
    assert "river" in texts(replies)


async def test_find_searches_and_an_empty_find_asks_what_to_look_for(conversation, city):
    person = await newcomer(conversation, "it")

    found = await person.command("find", "doposcuola")
    empty = await person.command("find")

    assert "Doposcuola" in listed(found)
    assert "🔎" in texts(empty) and not listed(empty)


async def test_forged_views_and_unknown_opportunities_expire(conversation, city):
    person = await newcomer(conversation)

    for data in ("vol:list:nope-0", "vol:list:education-0-zz", "vol:card:99999:education-0",
                 "vol:card:1:bogus", "vol:follow:all-0", "vol:yes:abc:all-0"):  # fmt: skip
        replies = await person.press(data)
        assert "expired" in texts(replies) or "no longer open" in texts(replies), data
    async with conversation.sessionmaker() as session:
        assert list(await session.scalars(select(Signup))) == []


async def test_a_closed_opportunity_is_no_longer_open_for_a_stale_card(conversation, city):
    person = await newcomer(conversation)
    async with conversation.sessionmaker() as session:
        await OpportunityRepository(session).set_status(
            city.opportunities["tandem"], OpportunityStatus.ARCHIVED
        )
        await session.commit()

    replies = await person.press(f"vol:join:{city.opportunities['tandem']}:all-0")

    assert "no longer open" in texts(replies)
    assert [m.edit for m in messages(replies)] == [True]


async def publish(conversation: Conversation, city: City, title: str, **values: object) -> int:
    """Publish one more opportunity (a food one in the city centre unless told otherwise)."""
    fields: dict[str, object] = {
        "organisation_id": city.organisations["ponte"],
        "category": "food",
        "source_locale": "it",
        "city": "Cesena",
        "texts": {"it": (title, "", "")},
        "area_id": city.areas["Centro storico"],
    }
    async with conversation.sessionmaker() as session:
        repository = OpportunityRepository(session, conversation.settings.zone)
        opportunity_id, _ = await repository.save(
            OpportunityData(**{**fields, **values}),  # type: ignore[arg-type]
            status=OpportunityStatus.PUBLISHED,
        )
        await repository.notify_followers(opportunity_id)
        await session.commit()
    return opportunity_id


async def test_past_one_off_opportunities_expire_and_the_rest_stay_published(conversation, city):
    async with conversation.sessionmaker() as session:
        expired = await OpportunityRepository(session).expire_past()
        await session.commit()
    async with conversation.sessionmaker() as session:
        statuses = {
            name: (await session.get_one(Opportunity, opportunity_id)).status
            for name, opportunity_id in city.opportunities.items()
        }

    assert expired == 1
    assert statuses.pop("past") is OpportunityStatus.EXPIRED
    assert set(statuses.values()) == {OpportunityStatus.PUBLISHED}, "future and weekly ones stay"


async def test_this_week_lists_one_off_activities_until_sunday_night_only(conversation, city):
    local_now = utcnow().astimezone(conversation.settings.zone)
    week_end = (local_now + timedelta(days=6 - local_now.weekday())).replace(
        hour=23, minute=59, second=59
    )  # Sunday night, city time, as the filter counts
    once = {"category": "sport", "schedule": Schedule.ONCE}
    await publish(
        conversation,
        city,
        "Torneo stasera",
        starts_at=local_now + (week_end - local_now) / 2,
        **once,
    )
    await publish(
        conversation, city, "Torneo di lunedì", starts_at=week_end + timedelta(minutes=2), **once
    )
    await publish(
        conversation, city, "Torneo passato", starts_at=local_now - timedelta(hours=1), **once
    )
    person = await newcomer(conversation)

    this_week = await person.press("vol:list:sport-0-wweek")
    any_time = await person.press("vol:list:sport-0")

    assert listed(this_week) == ["Torneo stasera"]
    assert sorted(listed(any_time)) == ["Torneo di lunedì", "Torneo stasera"]


async def test_an_area_follow_hears_only_of_opportunities_in_that_area(conversation, city):
    person = await newcomer(conversation)
    vigne = city.areas["Vigne"]
    followed = await person.press(f"vol:follow:food-0-a{vigne}")
    assert "🔕 Stop following" in buttons(followed)

    await publish(conversation, city, "Orto in Vigne", area_id=vigne)
    await publish(conversation, city, "Mensa in Oltre Savio", area_id=city.areas["Oltre Savio"])
    await publish(conversation, city, "Mensa senza quartiere", area_id=None)

    [notice] = await deliveries(conversation, "opportunity")
    assert "Orto in Vigne" in (await rendered(conversation, notice) or "")


async def test_a_muted_person_who_signs_up_still_gets_the_reminder(conversation, city):
    person = await newcomer(conversation)
    async with conversation.sessionmaker() as session:
        user = await session.scalar(select(User).where(User.channel_user_id == person.user_id))
        assert user is not None
        user.muted = True  # no announcements, please
        await session.commit()
    tomorrow_and_more = utcnow() + timedelta(days=3)
    picnic = await publish(
        conversation, city, "Picnic", schedule=Schedule.ONCE, starts_at=tomorrow_and_more
    )

    done = await person.press(f"vol:yes:{picnic}:all-0")

    assert "I will remind you the day before." in texts(done)
    [reminder] = await deliveries(conversation, "reminder")
    assert (reminder.user_id, reminder.status) == (user.id, DeliveryStatus.QUEUED)
    assert "⏰" in (await rendered(conversation, reminder) or "")


async def test_a_reminder_queued_before_a_restart_is_delivered_after_it(
    conversation, city, settings, served
):
    profile = served.playground.add_user("Amina", "en")
    person = Person(conversation, user_id=str(profile["id"]))
    await person.onboard("en")
    picnic = await publish(
        conversation, city, "Picnic", schedule=Schedule.ONCE, starts_at=utcnow() + timedelta(days=3)
    )
    await person.press(f"vol:yes:{picnic}:all-0")
    sender = TelegramSender(served.playground.token, served.url)
    await sender.initialize()
    policy = DeliveryPolicy(rate=0, retry_backoff=timedelta(0))
    before = DeliveryWorker(
        conversation.sessionmaker, conversation.catalog, sender.send, policy=policy
    )
    await before.run_until_idle()

    def reminders() -> list[str]:
        chat = served.playground.transcript(profile["id"])
        return [message["text"] for message in chat if "⏰" in message.get("text", "")]

    assert reminders() == [], "not due yet"
    [queued] = await deliveries(conversation, "reminder")
    await conversation.sessionmaker.kw["bind"].dispose()  # the bot goes down

    engine = create_engine(settings.database_url)  # and comes back on the same file
    clock = ManualClock(queued.due_at.replace(tzinfo=utcnow().tzinfo))
    after = DeliveryWorker(
        create_sessionmaker(engine), conversation.catalog, sender.send, policy=policy, clock=clock
    )
    await after.run_until_idle()
    await sender.shutdown()
    await engine.dispose()

    [reminder] = reminders()
    assert "Picnic" in reminder and "tomorrow" in reminder
