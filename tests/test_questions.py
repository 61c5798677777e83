"""Questions: FAQ answers in the asker's language, emergencies first, and volunteers when needed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.conversation import Conversation
from bot.metrics import Metrics
from handlers.notifications import render
from storage.faq import FaqRepository
from storage.models import Delivery, FaqEntry, HelperQuestion, QuestionStatus, User
from storage.services import ServiceRepository
from storage.users import UserRepository
from tests.support.chat import Person, buttons, messages, texts, toasts

DOCTOR = {
    "it": ("Come trovo un medico di base?", ["medico di famiglia"],
           "Scegli il medico di base all'ASL con la tessera sanitaria."),
    "en": ("How do I find a family doctor?", ["GP doctor"],
           "Choose your family doctor at the ASL office with your health card."),
    "ar": ("كيف أجد طبيب العائلة؟", ["طبيب عام"], "اختر طبيب العائلة في مكتب ASL ببطاقتك الصحية."),
}  # fmt: skip
PERMIT = {
    "it": ("Come rinnovo il permesso di soggiorno?", ["rinnovo permesso"],
           "Il rinnovo si chiede alla questura o all'ufficio postale con il kit."),
    "en": ("How do I renew my residence permit?", ["permit renewal"],
           "Ask for the renewal at the questura or with the kit at the post office."),
}  # fmt: skip


@pytest.fixture
async def faq(conversation: Conversation) -> dict[str, int]:
    async with conversation.sessionmaker() as session:
        repository = FaqRepository(session)
        ids = {
            "doctor": await repository.save("doctor", "health", "it", DOCTOR),
            "permit": await repository.save("permit", "registration", "it", PERMIT),
        }
        services = ServiceRepository(session)
        await services.save_emergency(
            "nue", "112", {"en": "Single emergency number", "ar": "رقم الطوارئ الموحد"}, 0
        )
        await services.save_emergency(
            "violence", "1522", {"en": "Violence against women helpline"}, 1
        )
        await session.commit()
    return ids


async def person(conversation: Conversation, user_id: str, locale: str, *roles: str) -> Person:
    someone = Person(conversation, user_id=user_id, language_code=locale)
    await someone.onboard(locale)
    if roles:
        async with conversation.sessionmaker() as session:
            users = UserRepository(session)
            user = await users.find("telegram", user_id)
            assert user is not None
            for role in roles:
                await users.grant_role(user, role)
            await session.commit()
    return someone


async def queued(conversation: Conversation, kind: str) -> list[Delivery]:
    async with conversation.sessionmaker() as session:
        return list(
            await session.scalars(
                select(Delivery).where(Delivery.kind == kind).order_by(Delivery.id)
            )
        )


async def read(conversation: Conversation, delivery: Delivery) -> tuple[str, dict[str, str]]:
    """What the recipient of a queued delivery reads, and its buttons."""
    async with conversation.sessionmaker() as session:
        user = await session.get(User, delivery.user_id)
        assert user is not None
        message = await render(
            delivery.kind,
            session,
            conversation.catalog.translator(user.locale),
            user,
            delivery.payload,
        )
        assert message is not None
        return message.text, {key.label: key.data or "" for row in message.keyboard for key in row}


async def test_a_question_gets_the_best_answer_in_the_askers_language(conversation, faq):
    asker = await person(conversation, "7001", "ar")
    await asker.press("menu:ask")

    replies = await asker.text("ابحث عن طبيب العائله")  # heh for teh marbuta, no hamza

    first = messages(replies)[0]
    assert "طبيب العائلة" in first.text and "ASL" in first.text
    assert {key.data for row in first.keyboard for key in row} == {
        f"faq:yes:{faq['doctor']}",
        f"faq:no:{faq['doctor']}",
    }
    assert "ask:human" in buttons(replies).values()


async def test_faq_searches_are_timed_for_the_metrics(conversation, faq):
    metrics = Metrics()
    timed = Conversation(
        conversation.settings, conversation.catalog, conversation.sessionmaker, metrics
    )
    asker = await person(timed, "7009", "en")
    await asker.press("menu:ask")

    await asker.text("How do I find a family doctor?")

    timed_searches = metrics.registry.get_sample_value(
        "passaparola_search_seconds_count", {"index": "faq"}
    )
    assert timed_searches == 1


async def test_a_question_in_another_language_still_finds_the_answer(conversation, faq):
    asker = await person(conversation, "7002", "tr")

    replies = await asker.command("ask", "rinnovo permesso di soggiorno")

    assert "questura" in texts(replies)


async def test_emergency_words_put_the_numbers_first(conversation, faq):
    asker = await person(conversation, "7003", "ar")

    replies = await asker.command("ask", "اريد الشرطة بسرعة")

    first = messages(replies)[0].text
    assert first.startswith("🚨") and "112" in first and "رقم الطوارئ الموحد" in first
    assert first.index("112") < first.index("1522")


@pytest.mark.parametrize(
    ("locale", "text"),
    [("en", "call an ambulance"), ("tr", "acil yardim lazim"), ("it", "chiamate la polizia"),
     ("uk", "Допоможіть!")],
)  # fmt: skip
async def test_emergency_words_in_many_languages(conversation, faq, locale, text):
    asker = await person(conversation, "7004", locale)

    replies = await asker.command("ask", text)

    assert messages(replies)[0].text.startswith("🚨")


async def test_nothing_relevant_offers_a_volunteer(conversation, faq):
    asker = await person(conversation, "7005", "en")

    replies = await asker.command("ask", "where can I play chess on sundays")

    assert [m.text[0] for m in messages(replies)] == ["🤔"], "no answer was good enough"
    assert "🙋 Ask a volunteer" in buttons(replies)


async def test_rating_an_answer_counts_anonymously_and_no_offers_a_volunteer(conversation, faq):
    asker = await person(conversation, "7006", "en")
    await asker.command("ask", "family doctor")

    yes = await asker.press(f"faq:yes:{faq['doctor']}")
    no = await asker.press(f"faq:no:{faq['doctor']}")

    assert toasts(yes) == ["Thank you! Glad it helped."]
    assert "🙋 Ask a volunteer" in buttons(no)
    async with conversation.sessionmaker() as session:
        entry = await session.get(FaqEntry, faq["doctor"])
        assert entry is not None and (entry.helpful, entry.unhelpful) == (1, 1)


async def test_the_handover_round_trip_hides_both_identities(conversation, faq):
    asker = await person(conversation, "7007", "ar")
    helper = await person(conversation, "7008", "ar", "helper")
    other_language_helper = await person(conversation, "7009", "uk", "helper")
    admin = await person(conversation, "4242", "en")  # ADMIN_IDS in the test settings
    await asker.command("ask", "أين أتعلم ركوب الدراجة مجانا")
    sent = await asker.press("ask:human")
    assert toasts(sent) == [conversation.catalog.translator("ar")._("Sent!")] != ["Sent!"]

    [offer] = await queued(conversation, "question")
    offer_text, offer_buttons = await read(conversation, offer)
    helper_row = await session_user(conversation, helper.user_id)
    assert offer.user_id == helper_row.id, "only the helper who speaks Arabic"
    assert "الدراجة" in offer_text and "7007" not in offer_text and "Test" not in offer_text
    count = await helper.command("questions")
    assert "1" in texts(count)
    assert " 0 " in texts(await other_language_helper.command("questions")), "none in Ukrainian"

    await helper.press(next(iter(offer_buttons.values())))
    thanks = await helper.text("في مركز الشباب كل سبت مجانا")
    assert "✅" in texts(thanks)

    [answer] = await queued(conversation, "answer")
    answer_text, answer_buttons = await read(conversation, answer)
    assert "مركز الشباب" in answer_text and "7008" not in answer_text and "Test" not in answer_text
    rated = await asker.press(
        answer_buttons["👍 " + conversation.catalog.translator("ar")._("Helpful")]
    )
    assert toasts(rated)
    async with conversation.sessionmaker() as session:
        [item] = list(await session.scalars(select(HelperQuestion)))
        assert (item.status, item.rating) == (QuestionStatus.RATED, 1)

    [review] = await queued(conversation, "review")
    review_text, review_buttons = await read(conversation, review)
    assert "مركز الشباب" in review_text
    await admin.press(review_buttons["⭐ Add to the answers"])
    later = await person(conversation, "7010", "ar")
    replies = await later.command("ask", "تعلم ركوب الدراجة")
    assert "مركز الشباب" in texts(replies), "the promoted answer is now found"


async def session_user(conversation: Conversation, user_id: str) -> User:
    async with conversation.sessionmaker() as session:
        user = await session.scalar(select(User).where(User.channel_user_id == user_id))
        assert user is not None
        return user


async def test_only_helpers_and_admins_may_answer_or_promote(conversation, faq):
    asker = await person(conversation, "7011", "en")
    await asker.command("ask", "where can I play chess")
    await asker.press("ask:human")
    stranger = await person(conversation, "7012", "en")
    async with conversation.sessionmaker() as session:
        [item] = list(await session.scalars(select(HelperQuestion)))

    for replies in (
        await stranger.command("questions"),
        await stranger.press(f"hq:take:{item.id}"),
        await stranger.press(f"hq:promote:{item.id}"),
    ):
        assert "Only volunteer helpers" in texts(replies)
    async with conversation.sessionmaker() as session:
        [again] = list(await session.scalars(select(HelperQuestion)))
        assert (again.status, again.helper_id) == (QuestionStatus.WAITING, None)
        assert (
            list(await session.scalars(select(FaqEntry).where(FaqEntry.promoted_from.is_not(None))))
            == []
        )


async def test_two_helpers_cannot_take_the_same_question(conversation, faq):
    asker = await person(conversation, "7013", "en")
    await asker.command("ask", "where can I play chess")
    await asker.press("ask:human")
    first = await person(conversation, "7014", "en", "helper")
    second = await person(conversation, "7015", "en", "helper")
    async with conversation.sessionmaker() as session:
        [item] = list(await session.scalars(select(HelperQuestion)))

    await first.press(f"hq:take:{item.id}")
    late = await second.press(f"hq:take:{item.id}")

    assert toasts(late) == ["Another volunteer is already answering this one."]
