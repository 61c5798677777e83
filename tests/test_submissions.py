"""Peers suggest opportunities through a stored flow; moderators approve, edit or reject them,
and the person who suggested one hears the outcome in their own language."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from babel.dates import format_time
from sqlalchemy import func, select

from bot.conversation import Conversation
from bot.i18n import FIRST_STRONG_ISOLATE, POP_DIRECTIONAL_ISOLATE
from bot.turn import Document, Message
from handlers.notifications import render
from storage.audit import AuditLog
from storage.models import (
    Delivery,
    Flow,
    Follow,
    Opportunity,
    OpportunityStatus,
    OpportunityText,
    Organisation,
    Submission,
    SubmissionStatus,
    User,
)
from storage.opportunities import aware
from storage.pseudonyms import Pseudonyms
from storage.users import UserRepository
from tests.support.chat import Person, buttons, messages, texts, toasts
from tests.support.opportunities import City, seed_city

SUGGESTION = {
    "title": "Sunday soup kitchen",
    "what": "We cook and serve a warm meal for about sixty people.\n\nNo experience needed.",
    "place": "Via Cesare Battisti 12, Cesena",
    "timing": "Every Sunday from 11:00 to 14:00",
    "contact": "https://soup.example/join",
}


@pytest.fixture
async def city(conversation: Conversation) -> City:
    return await seed_city(conversation)


async def someone(
    conversation: Conversation, user_id: str, locale: str, *roles: str, follows: str = ""
) -> Person:
    """An onboarded person, with roles and a followed category if asked."""
    person = Person(conversation, user_id=user_id, language_code=locale)
    await person.onboard(locale)
    async with conversation.sessionmaker() as session:
        users = UserRepository(session)
        user = await users.find("telegram", user_id)
        assert user is not None
        for role in roles:
            await users.grant_role(user, role)
        if follows:
            session.add(Follow(user_id=user.id, category=follows))
        await session.commit()
    return person


async def suggest(person: Person, values: dict[str, str] = SUGGESTION) -> list:
    """Answer every question, press Send; returns the replies to Send."""
    await person.command("suggest")
    for field in ("title", "what", "place", "timing", "contact"):
        await person.text(values[field])
    return await person.press("sub:send")


async def submissions(conversation: Conversation) -> list[Submission]:
    async with conversation.sessionmaker() as session:
        return list(await session.scalars(select(Submission).order_by(Submission.id)))


async def account(conversation: Conversation, person: Person) -> User:
    async with conversation.sessionmaker() as session:
        user = await session.scalar(select(User).where(User.channel_user_id == person.user_id))
        assert user is not None
        return user


async def deliveries(conversation: Conversation, kind: str) -> list[Delivery]:
    async with conversation.sessionmaker() as session:
        query = select(Delivery).where(Delivery.kind == kind).order_by(Delivery.id)
        return list(await session.scalars(query))


async def read(conversation: Conversation, delivery: Delivery) -> Message:
    """What the recipient of a queued delivery reads, rendered as the worker would."""
    async with conversation.sessionmaker() as session:
        user = await session.get(User, delivery.user_id)
        assert user is not None
        translator = conversation.catalog.translator(user.locale)
        message = await render(delivery.kind, session, translator, user, delivery.payload)
        assert message is not None
        return message


async def published(conversation: Conversation, opportunity_id: int) -> dict[str, object]:
    async with conversation.sessionmaker() as session:
        row = await session.get(Opportunity, opportunity_id)
        assert row is not None
        text = await session.scalar(
            select(OpportunityText).where(OpportunityText.opportunity_id == opportunity_id)
        )
        assert text is not None
        organisation = await session.get(Organisation, row.organisation_id)
        assert organisation is not None
        return {
            "status": row.status, "category": row.category, "source_locale": row.source_locale,
            "address": row.address, "contact": row.contact, "schedule": row.schedule.value,
            "locale": text.locale, "title": text.title, "description": text.description,
            "organisation": organisation.external_id,
        }  # fmt: skip


# --- suggesting ------------------------------------------------------------------------------


async def test_each_step_says_what_is_wrong_then_the_preview_sends_it_to_the_queue(
    conversation, city
):
    person = await someone(conversation, "7300001", "en")

    first = await person.command("suggest")
    assert "What is it called?" in texts(first)
    assert "empty" in texts(await person.text("   "))
    too_long = await person.text("x" * 121)
    assert "at most 120 characters, and yours has 121" in texts(too_long)
    assert "What happens there" in texts(await person.text("  Sunday   soup kitchen "))
    too_long = await person.text("y" * 1001)
    assert "at most 1,000 characters, and yours has 1,001" in texts(too_long), "Babel numbers"
    assert "Where is it?" in texts(await person.text(SUGGESTION["what"]))
    assert "at most 200 characters" in texts(await person.text("z" * 201))
    assert "When does it happen?" in texts(await person.text(SUGGESTION["place"]))
    assert "empty" in texts(await person.text(""))
    assert "get in touch" in texts(await person.text(SUGGESTION["timing"]))
    assert "at most 200 characters" in texts(await person.text("@" * 201))
    preview = await person.text(SUGGESTION["contact"])

    [card] = messages(preview)
    assert "Please check what you wrote" in card.text
    assert "Title: Sunday soup kitchen" in card.text, "whitespace tidied to one line"
    assert "No experience needed." in card.text and SUGGESTION["contact"] in card.text
    assert card.preview is False, "links the person typed are not previewed"
    assert set(buttons(preview).values()) == {"sub:send", "sub:restart", "sub:cancel"}
    assert await submissions(conversation) == [], "nothing is stored before Send"

    sent = await person.press("sub:send")

    assert toasts(sent) == ["Sent!"] and "Our team will check" in texts(sent)
    [row] = await submissions(conversation)
    user = await account(conversation, person)
    assert row.status is SubmissionStatus.PENDING and row.submitter_id == user.id
    assert (row.locale, row.title, row.what, row.contact) == (
        "en", SUGGESTION["title"], SUGGESTION["what"], SUGGESTION["contact"]
    )  # fmt: skip
    async with conversation.sessionmaker() as session:
        assert await session.get(Flow, user.id) is None, "the flow is closed"


async def test_start_again_and_cancel(conversation, city):
    person = await someone(conversation, "7300002", "en")
    await person.command("suggest")
    await person.text("Park clean-up")

    again = await person.press("sub:restart")
    assert "What is it called?" in texts(again)
    await person.text("Park clean-up on Saturday")
    cancelled = await person.press("sub:cancel")

    assert "Nothing was sent" in texts(cancelled)
    assert await submissions(conversation) == []
    assert "expired" in texts(await person.press("sub:send")), "no flow any more"


async def test_the_flow_survives_a_restart(conversation, city, settings, catalog):
    person = await someone(conversation, "7300003", "en")
    await person.press("sub:new")
    await person.text("Reading to children")

    restarted = Person(Conversation(settings, catalog, conversation.sessionmaker), "7300003")

    assert "Where is it?" in texts(await restarted.text("We read stories aloud."))


async def test_past_the_daily_limit_nothing_is_stored_and_the_person_is_told_when(
    conversation, city
):
    person = await someone(conversation, "7300004", "it")
    limit = conversation.settings.submissions_per_day
    sent = conversation.catalog.translator("it")._("Sent!")
    for number in range(limit):
        assert toasts(await suggest(person, {**SUGGESTION, "title": f"Idea {number}"})) == [sent]
    assert len(await submissions(conversation)) == limit
    user = await account(conversation, person)

    refused = await person.command("suggest")

    assert "⏳" in texts(refused) and str(limit) in texts(refused)
    assert len(await submissions(conversation)) == limit, "nothing stored"
    async with conversation.sessionmaker() as session:
        assert await session.get(Flow, user.id) is None, "no flow was opened"
    expired = conversation.catalog.translator("it")._("This button has expired.")
    assert expired in texts(await person.press("sub:send"))

    oldest_id = (await submissions(conversation))[0].id
    async with conversation.sessionmaker() as session:
        oldest = await session.get_one(Submission, oldest_id)
        oldest.created_at = oldest.created_at - timedelta(hours=25)
        await session.commit()
    assert "⏳" not in texts(await person.command("suggest")), "a day later, one more is fine"


async def test_the_limit_message_says_the_limit_and_the_time(conversation, city, settings, catalog):
    strict = Conversation(
        settings.model_copy(update={"submissions_per_day": 1}), catalog, conversation.sessionmaker
    )
    person = await someone(strict, "7300005", "en")
    await suggest(person)
    [row] = await submissions(strict)

    refused = texts(await person.press("sub:new"))

    assert "up to 1 opportunity a day" in refused
    next_one = aware(row.created_at) + timedelta(days=1)
    assert format_time(next_one.astimezone(settings.zone), "short", locale="en") in refused


# --- moderating --------------------------------------------------------------------------------


async def test_approve_publishes_tells_followers_and_the_submitter_in_their_own_language(
    conversation, city
):
    submitter = await someone(conversation, "7300010", "ar")
    follower = await someone(conversation, "7300011", "en", follows="food")
    moderator = await someone(conversation, "7300012", "it", "moderator")
    await suggest(submitter)
    [item] = await submissions(conversation)

    queue = await moderator.command("moderate")

    [card] = messages(queue)
    italian = conversation.catalog.translator("it")
    waiting = italian.ngettext(
        "%(count)s suggestion is waiting for review.",
        "%(count)s suggestions are waiting for review.",
        1,
    )
    assert waiting in card.text and SUGGESTION["title"] in card.text
    assert set(buttons(queue).values()) >= {
        f"mod:approve:{item.id}", f"mod:edit:{item.id}", f"mod:reject:{item.id}"
    }  # fmt: skip
    categories = await moderator.press(f"mod:approve:{item.id}")
    assert f"mod:cat:{item.id}:other" in buttons(categories).values()
    assert f"mod:cat:{item.id}:food" in buttons(categories).values()
    assert await deliveries(conversation, "submission") == [], "nothing decided yet"
    done = await moderator.press(f"mod:cat:{item.id}:food")

    assert toasts(done) == [italian._("Published!")]
    [decided] = await submissions(conversation)
    assert decided.status is SubmissionStatus.APPROVED and decided.opportunity_id is not None
    assert decided.moderator_id == (await account(conversation, moderator)).id
    opportunity = await published(conversation, decided.opportunity_id)
    assert opportunity == {
        "status": OpportunityStatus.PUBLISHED, "category": "food", "source_locale": "ar",
        "address": SUGGESTION["place"], "contact": SUGGESTION["contact"], "schedule": "flexible",
        "locale": "ar", "title": SUGGESTION["title"],
        "description": f"{SUGGESTION['what']}\n\n🕒 {SUGGESTION['timing']}",
        "organisation": "community-tips",
    }  # fmt: skip

    [for_follower] = await deliveries(conversation, "opportunity")
    assert for_follower.user_id == (await account(conversation, follower)).id
    assert SUGGESTION["title"] in (await read(conversation, for_follower)).text

    [outcome] = await deliveries(conversation, "submission")
    assert outcome.user_id == (await account(conversation, submitter)).id
    notice = await read(conversation, outcome)
    arabic = conversation.catalog.translator("ar")
    assert f"{FIRST_STRONG_ISOLATE}{SUGGESTION['title']}{POP_DIRECTIONAL_ISOLATE}" in notice.text
    labels = {key.label: key.data for row in notice.keyboard for key in row}
    assert labels["🔎 " + arabic._("Open")] == f"vol:card:{decided.opportunity_id}:home"
    assert "🔎 Apri" not in labels, "not in the moderator's language"
    assert notice.preview is False

    async with conversation.sessionmaker() as session:
        [entry] = await AuditLog(session).entries(action_prefix="submission.")
    assert entry.action == "submission.approve" and entry.details["category"] == "food"
    assert SUGGESTION["title"] not in json.dumps(entry.details), "no texts in the audit log"

    newcomer = await someone(conversation, "7300013", "en")
    opened = texts(await newcomer.press(f"vol:card:{decided.opportunity_id}:home"))
    assert f"Where: {SUGGESTION['place']}" in opened, "the place reads as the address"
    reader = await someone(conversation, "7300014", "ar")
    arabic_card = texts(await reader.press(f"vol:card:{decided.opportunity_id}:home"))
    organisation = conversation.catalog.translator("ar")._(
        "Organisation: %(name)s", name="Passaparola"
    )
    assert organisation in arabic_card, "no English words in the organisation's name"


async def test_edit_then_approve_publishes_the_edited_text(conversation, city):
    submitter = await someone(conversation, "7300020", "en")
    moderator = await someone(conversation, "7300021", "en", "moderator")
    await suggest(submitter, {**SUGGESTION, "title": "soup!!"})
    [item] = await submissions(conversation)

    fields = await moderator.press(f"mod:edit:{item.id}")
    assert f"mod:field:{item.id}:title" in buttons(fields).values()
    asked = await moderator.press(f"mod:field:{item.id}:title")
    assert "Now: soup!!" in texts(asked)
    assert "at most 120 characters" in texts(await moderator.text("t" * 121)), "same rules"
    card = await moderator.text("Sunday soup kitchen at the parish hall")
    assert "Title: Sunday soup kitchen at the parish hall" in texts(card)
    assert "You changed: Title" in texts(card)
    assert "✅ Approve with your changes" in buttons(card)

    await moderator.press(f"mod:approve:{item.id}")
    await moderator.press(f"mod:cat:{item.id}:other")

    [decided] = await submissions(conversation)
    assert decided.title == "soup!!", "what the person wrote is kept as they wrote it"
    assert decided.opportunity_id is not None
    opportunity = await published(conversation, decided.opportunity_id)
    assert opportunity["title"] == "Sunday soup kitchen at the parish hall"
    assert opportunity["category"] == "other"
    moderator_id = (await account(conversation, moderator)).id
    async with conversation.sessionmaker() as session:
        assert await session.get(Flow, moderator_id) is None, "the edits are done with"
        [entry] = await AuditLog(session).entries(action_prefix="submission.")
    assert entry.details["edited"] == ["title"]


async def test_reject_tells_the_submitter_the_reason_in_their_language(conversation, city):
    submitter = await someone(conversation, "7300030", "ar")
    moderator = await someone(conversation, "7300031", "it", "moderator")
    await suggest(submitter)
    [item] = await submissions(conversation)

    reasons = await moderator.press(f"mod:reject:{item.id}")
    assert f"mod:why:{item.id}:duplicate" in buttons(reasons).values()
    done = await moderator.press(f"mod:why:{item.id}:duplicate")

    assert "🚫" in texts(done)
    [decided] = await submissions(conversation)
    assert decided.status is SubmissionStatus.REJECTED and decided.reason == "duplicate"
    assert decided.opportunity_id is None
    async with conversation.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Opportunity)) == len(
            city.opportunities
        ), "nothing published"
    [outcome] = await deliveries(conversation, "submission")
    notice = await read(conversation, outcome)
    arabic, italian = (conversation.catalog.translator(code) for code in ("ar", "it"))
    assert arabic._("We already list it") in notice.text
    assert f"{FIRST_STRONG_ISOLATE}{SUGGESTION['title']}{POP_DIRECTIONAL_ISOLATE}" in notice.text
    if italian._("We already list it") != arabic._("We already list it"):
        assert italian._("We already list it") not in notice.text


async def test_the_moderator_sees_a_code_never_the_account_and_links_are_not_previewed(
    conversation, city
):
    submitter = await someone(conversation, "7300040", "ar")
    moderator = await someone(conversation, "7300041", "en", "admin")  # admins moderate too
    await suggest(submitter)
    user = await account(conversation, submitter)

    queue = await moderator.command("moderate")

    [card] = messages(queue)
    async with conversation.sessionmaker() as session:
        code = (await Pseudonyms.load(session)).of(user)
    assert code in card.text and "Arabic" in card.text
    shown = card.text + json.dumps(buttons(queue))
    assert "7300040" not in shown and "Test" not in shown, "no account id, no name"
    [item] = await submissions(conversation)
    assert set(buttons(queue).values()) == {
        f"mod:approve:{item.id}", f"mod:edit:{item.id}", f"mod:reject:{item.id}", "menu:open"
    }, "buttons carry the suggestion's number only"  # fmt: skip
    assert card.preview is False and SUGGESTION["contact"] in card.text


async def test_next_moves_through_the_queue_and_decided_items_expire(conversation, city):
    first = await someone(conversation, "7300050", "en")
    second = await someone(conversation, "7300051", "en")
    await suggest(first, {**SUGGESTION, "title": "First idea"})
    await suggest(second, {**SUGGESTION, "title": "Second idea"})
    moderator = await someone(conversation, "7300052", "en", "moderator")
    older, newer = await submissions(conversation)

    queue = await moderator.command("moderate")
    assert "2 suggestions are waiting" in texts(queue) and "First idea" in texts(queue)
    following = await moderator.press(f"mod:next:{older.id}")
    assert "Second idea" in texts(following)
    wrapped = await moderator.press(f"mod:next:{newer.id}")
    assert "First idea" in texts(wrapped), "Next wraps around to the oldest"

    other = await someone(conversation, "7300053", "en", "moderator")
    await other.press(f"mod:why:{older.id}:not_volunteering")
    before = [(row.id, row.status, row.reason) for row in await submissions(conversation)]
    for data in (f"mod:approve:{older.id}", f"mod:cat:{older.id}:food",
                 f"mod:why:{older.id}:duplicate", f"mod:edit:{older.id}"):  # fmt: skip
        assert "expired" in texts(await moderator.press(data)), data
    after = [(row.id, row.status, row.reason) for row in await submissions(conversation)]
    assert after == before


async def test_nobody_decides_on_their_own_suggestion(conversation, city):
    moderator = await someone(conversation, "7300055", "en", "moderator")
    colleague = await someone(conversation, "7300056", "en", "admin")
    await suggest(moderator)
    [item] = await submissions(conversation)

    own_queue = texts(await moderator.command("moderate"))
    assert "0 suggestions are waiting" in own_queue and "Nothing is waiting" in own_queue
    for data in (f"mod:approve:{item.id}", f"mod:cat:{item.id}:food", f"mod:edit:{item.id}",
                 f"mod:field:{item.id}:title", f"mod:why:{item.id}:duplicate",
                 f"mod:back:{item.id}"):  # fmt: skip
        assert "expired" in texts(await moderator.press(data)), data
    [untouched] = await submissions(conversation)
    assert untouched.status is SubmissionStatus.PENDING and untouched.moderator_id is None

    their_queue = await colleague.command("moderate")
    assert "1 suggestion is waiting" in texts(their_queue)
    assert SUGGESTION["title"] in texts(their_queue)
    await colleague.press(f"mod:cat:{item.id}:food")
    [decided] = await submissions(conversation)
    assert decided.status is SubmissionStatus.APPROVED


async def test_a_plain_user_cannot_moderate_even_with_forged_buttons(conversation, city):
    submitter = await someone(conversation, "7300060", "en")
    await suggest(submitter)
    [item] = await submissions(conversation)
    plain = await someone(conversation, "7300061", "en")

    for replies in (
        await plain.command("moderate"),
        await plain.press(f"mod:approve:{item.id}"),
        await plain.press(f"mod:cat:{item.id}:food"),
        await plain.press(f"mod:why:{item.id}:unsafe"),
        await plain.press(f"mod:field:{item.id}:title"),
    ):
        assert "Only moderators" in texts(replies)

    [unchanged] = await submissions(conversation)
    assert unchanged.status is SubmissionStatus.PENDING and unchanged.moderator_id is None
    plain_id = (await account(conversation, plain)).id
    async with conversation.sessionmaker() as session:
        assert await AuditLog(session).entries() == []
        assert await session.get(Flow, plain_id) is None
    assert await deliveries(conversation, "submission") == []


# --- privacy -----------------------------------------------------------------------------------


async def test_mydata_lists_the_suggestions_and_forget_deletes_them(conversation, city):
    person = await someone(conversation, "7300070", "en")
    await suggest(person)

    [document] = [reply for reply in await person.command("mydata") if isinstance(reply, Document)]
    [mine] = json.loads(document.content)["suggested_opportunities"]
    assert mine["title"] == SUGGESTION["title"] and mine["status"] == "pending"
    assert mine["where"] == SUGGESTION["place"] and mine["language"] == "en"

    await person.command("forget")
    await person.press("forget:yes")
    assert await submissions(conversation) == []


async def test_moderators_hear_that_a_suggestion_waits_in_their_language(conversation, city):
    submitter = await someone(conversation, "7300090", "ar", "moderator")  # not told of their own
    moderator = await someone(conversation, "7300091", "it", "moderator")
    await someone(conversation, "7300092", "en")  # a plain user hears nothing
    await suggest(submitter)

    [notice] = await deliveries(conversation, "suggestion")
    assert notice.user_id == (await account(conversation, moderator)).id
    message = await read(conversation, notice)
    italian = conversation.catalog.translator("it")
    waiting = italian.ngettext(
        "%(count)s suggestion is waiting for review.",
        "%(count)s suggestions are waiting for review.",
        1,
    )
    assert waiting in message.text and SUGGESTION["title"] not in message.text
    assert [key.data for row in message.keyboard for key in row] == ["mod:queue"]

    [item] = await submissions(conversation)
    await moderator.press(f"mod:reject:{item.id}")
    await moderator.press(f"mod:why:{item.id}:duplicate")
    async with conversation.sessionmaker() as session:
        user = await session.get(User, notice.user_id)
        assert user is not None
        translator = conversation.catalog.translator(user.locale)
        late = await render("suggestion", session, translator, user, notice.payload)
    assert late is None, "nothing waits any more: the queued notice is dropped"
