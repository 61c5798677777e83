"""Admin broadcasts: composed in the bot, sent in each person's language, durable and polite.

Delivery runs against the playground over real HTTP (with injected 429s, 403s, 5xx and slow
answers); the admin composes through the conversation core, or through the real bot end to end.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from babel.dates import format_date
from sqlalchemy import select
from telegram import Chat, PhotoSize, Update
from telegram import Message as TelegramMessage
from telegram import User as TelegramUser

from bot.channels.telegram import TelegramChannel, TelegramSender
from bot.conversation import Conversation
from bot.delivery import DeliveryPolicy, TemporaryFailure
from bot.turn import Message, Photo, Reply
from storage.broadcasts import BroadcastRepository
from storage.db import create_engine, create_sessionmaker
from storage.deliveries import DeliveryCounts
from storage.models import BroadcastStatus, Flow, User, UserStatus, utcnow
from storage.opportunities import OpportunityRepository
from storage.users import UserRepository
from tests.support.broadcasts import (
    Community,
    ManualClock,
    compose,
    eventually,
    local_time,
)
from tests.support.chat import Person, buttons, messages, texts, toasts
from tests.support.opportunities import seed_city
from tests.support.servers import run_bot

REFUSAL = "Only the city and NGO staff can send announcements."
VERSIONS = {
    "en": "New Italian class on Mondays at 18:00.",
    "ar": "درس جديد للغة الإيطالية أيام الاثنين الساعة 18:00.",
    "it": "Nuovo corso di italiano il lunedì alle 18:00.",
}


@pytest.fixture
async def community(conversation, served) -> AsyncIterator[Community]:
    """An empty community on a migrated database, sending to the playground over HTTP.

    The admin here clicks far faster than people do, so per-person flood control is off.
    """
    unhurried = conversation.settings.model_copy(update={"flood_max_updates": 0})
    core = Conversation(unhurried, conversation.catalog, conversation.sessionmaker)
    sender = TelegramSender(served.playground.token, served.url)
    await sender.initialize()
    yield Community(core, served, sender)
    await sender.shutdown()


async def send_now(community: Community, admin: Person) -> int:
    """Press Send now on the preview; the new broadcast's id."""
    replies = await admin.press("bc:send")
    assert toasts(replies) == ["Sending!"]
    return await community.newest_broadcast()


# --- languages and fallbacks -------------------------------------------------------------------


async def test_every_reachable_person_gets_one_copy_in_their_language_or_the_fallback(community):
    admin = await community.admin("en")
    amina, giulia, sam = [await community.member(code) for code in ("ar", "it", "en")]
    mehmet, oksana = await community.member("tr"), await community.member("uk")
    muted = await community.member("en", muted=True)
    undecided = await community.member("ar", consented=False)
    gone = await community.member("it", stopped=True)

    await compose(admin, VERSIONS, "bc:aud:all")
    broadcast_id = await send_now(community, admin)
    await community.deliver(community.worker(), community.service())

    assert community.received(amina) == [VERSIONS["ar"]]
    assert community.received(giulia) == [VERSIONS["it"]]
    assert community.received(sam) == [VERSIONS["en"]]
    assert community.received(mehmet) == community.received(oksana) == [VERSIONS["en"]]
    assert community.received(muted) == community.received(undecided) == []
    assert community.received(gone) == []
    view = await community.view(broadcast_id)
    assert view.status is BroadcastStatus.DONE
    assert view.counts == DeliveryCounts(sent=6), "five members and the admin"


async def test_the_preview_shows_each_version_and_who_falls_back_to_which(community):
    admin = await community.admin("en")
    for code in ("ar", "ar", "it", "tr", "tr", "uk", "en"):
        await community.member(code)
    await community.member("tr", muted=True)

    replies = await compose(admin, VERSIONS, "bc:aud:all")

    shown = messages(replies)
    assert [message.text for message in shown[1:6:2]] == list(VERSIONS.values()), (
        "each version exactly as its readers get it"
    )
    summary = shown[-1].text
    assert "• English: 2 people" in summary, "the admin and one member read English"
    assert "• Türkçe: 2 people will get the English version" in summary
    assert "• Українська: 1 person will get the English version" in summary
    assert "• العربية: 2 people" in summary and "• Italiano: 1 person" in summary
    assert "In total: 8 people." in summary
    assert "📣 Send now" in buttons(replies)


async def test_without_a_default_language_version_the_first_version_is_the_fallback(community):
    admin = await community.admin("en")
    amina, sam, mehmet = [await community.member(code) for code in ("ar", "en", "tr")]
    versions = {"ar": VERSIONS["ar"], "it": VERSIONS["it"]}

    replies = await compose(admin, versions, "bc:aud:all")
    summary = messages(replies)[-1].text
    assert "• English: 2 people will get the العربية version" in summary
    assert "• Türkçe: 1 person will get the العربية version" in summary
    assert "Nobody in this audience gets the Italiano version." in summary

    await send_now(community, admin)
    await community.deliver(community.worker(), community.service())

    assert community.received(amina) == community.received(sam) == [VERSIONS["ar"]]
    assert community.received(mehmet) == [VERSIONS["ar"]]


# --- audiences ---------------------------------------------------------------------------------


@pytest.fixture
async def town(community):
    """Members spread over two cities, categories, activity and sign-ups; the admin is active."""
    city = await seed_city(community.conversation)
    async with community.sessionmaker() as session:
        forli = await OpportunityRepository(session).ensure_area("Forlì", "Centro")
        await session.commit()
    centre, vigne = city.areas["Centro storico"], city.areas["Vigne"]
    people = {
        "anna": await community.member("en", areas=[centre], follows=["education"]),
        "bilal": await community.member("it", areas=[vigne], follows=["food"], seen_days_ago=40),
        "chiara": await community.member("it", areas=[forli], seen_days_ago=10),
        "dawit": await community.member("ar", follows=["education"], seen_days_ago=100),
        "muted": await community.member("en", areas=[centre], follows=["education"], muted=True),
    }
    homework = city.opportunities["homework"]
    await community.sign_up(people["anna"], homework)
    await community.sign_up(people["bilal"], homework, withdrawn=True)
    await community.sign_up(people["chiara"], city.opportunities["cleanup"])
    await community.sign_up(people["muted"], homework)
    admin = await community.admin("en")
    return admin, people, {"centre": centre, "vigne": vigne, "forli": forli, "homework": homework}


SEGMENTS = {
    "languages": (["bc:aud:locales", "bc:tick:it", "bc:done"], {"bilal", "chiara"}),
    "areas": (["bc:aud:areas", "bc:tick:{centre}", "bc:tick:{vigne}", "bc:done"],
              {"anna", "bilal"}),
    "city": (["bc:aud:city", "bc:pick:{centre}"], {"anna", "bilal"}),
    "other city": (["bc:aud:city", "bc:pick:{forli}"], {"chiara"}),
    "category": (["bc:aud:category", "bc:pick:education"], {"anna", "dawit"}),
    "active": (["bc:aud:active", "bc:pick:30"], {"anna", "chiara", "admin"}),
    "signed up": (["bc:aud:opportunity", "bc:pick:{homework}"], {"anna"}),
    "everyone": (["bc:aud:all"], {"anna", "bilal", "chiara", "dawit", "admin"}),
}  # fmt: skip


@pytest.mark.parametrize("segment", SEGMENTS)
async def test_each_audience_segment_reaches_exactly_its_people(community, town, segment):
    admin, people, ids = town
    presses, expected = SEGMENTS[segment]
    text = f"Announcement for the {segment} segment"

    replies = await compose(admin, {"en": text}, *(press.format(**ids) for press in presses))
    count = len(expected)
    assert f"In total: {count} {'person' if count == 1 else 'people'}." in texts(replies)
    await send_now(community, admin)
    await community.deliver(community.worker(), community.service())

    reached = {name for name, member in people.items() if text in community.received(member)}
    admin_reached = any(text == message.get("text") for message in community.chat(admin))
    assert reached | ({"admin"} if admin_reached else set()) == expected


async def test_active_days_can_be_typed_and_are_checked(community, town):
    admin, _, _ = town
    await compose(admin, {"en": "Hello"}, "bc:aud:active")

    for wrong in ("forever", "0", "400"):
        replies = await admin.text(wrong)
        assert "Please type a whole number of days from 1 to 365." in texts(replies)
    replies = await admin.text("45")

    assert "In total: 4 people." in texts(replies), "anna, bilal (40 days), chiara, the admin"


# --- delivery under faults, crashes, pause and cancel ---------------------------------------------


async def test_faults_lose_and_repeat_nothing_and_blocked_people_are_stopped(community, client):
    admin = await community.admin("en")
    people = [await community.member("en") for _ in range(12)]
    blocked_before, blocks_now = people[0], people[1]
    await community.served.playground.user_blocks(blocked_before.chat_id)
    await client.add_fault("403", method="sendMessage", chat_id=blocks_now.chat_id)
    await client.add_fault("429", method="sendMessage", chat_id=people[2].chat_id, retry_after=1)
    await client.add_fault("5xx", method="sendMessage", chat_id=people[3].chat_id, count=2)
    await client.add_fault("slow", method="sendMessage", delay=0.05, count=6)

    await compose(admin, {"en": "Volunteers' Day is on Saturday!"}, "bc:aud:all")
    broadcast_id = await send_now(community, admin)
    await community.deliver(community.worker(), community.service())

    assert community.received(blocked_before) == community.received(blocks_now) == []
    assert [await community.status(person) for person in people[:2]] == [UserStatus.STOPPED] * 2
    assert all(
        community.received(person) == ["Volunteers' Day is on Saturday!"] for person in people[2:]
    )
    assert await community.counts(broadcast_id) == DeliveryCounts(sent=11, blocked=2)
    errors = community.served.playground.stats.errors
    assert (errors[429], errors[502], errors[403]) == (1, 2, 2)
    [report] = community.reports(admin)
    assert "is finished" in report["text"] and "Blocked the bot: 2" in report["text"]


async def test_a_crash_mid_broadcast_resumes_skipping_nobody_repeating_at_most_in_flight(
    community, client
):
    admin = await community.admin("en")
    people = [await community.member("it") for _ in range(40)]
    await compose(admin, {"it": "Ciao a tutti"}, "bc:aud:all")
    broadcast_id = await send_now(community, admin)
    async with community.sessionmaker() as session:  # the fan-out crashes after its first batch
        repository = BroadcastRepository(session, "en")
        assert await repository.fan_out(broadcast_id, 15) is False
        await session.commit()
    await client.add_fault("slow", method="sendMessage", delay=0.1, count=1000)
    clock = ManualClock()
    policy = DeliveryPolicy(rate=0, batch_size=10, max_in_flight=4)
    crashing = asyncio.create_task(community.worker(policy, clock=clock).run_until_idle())

    async def some_sent() -> bool:
        return (await community.counts(broadcast_id)).sent >= 6

    await eventually(some_sent)
    crashing.cancel()  # killed: no stop(), nothing given back, leases left behind
    with pytest.raises(asyncio.CancelledError):
        await crashing
    await client.call("DELETE", "/faults")
    assert (await community.view(broadcast_id)).recipients == 15

    successor, service = community.worker(policy, clock=clock), community.service(fanout_batch=15)
    await community.deliver(successor, service)
    assert (await community.counts(broadcast_id)).queued > 0, "the dead worker's leases hold"
    clock.advance(policy.lease)
    await community.deliver(successor, service)

    copies = [len(community.received(person)) for person in people]
    assert min(copies) == 1, "nobody is skipped"
    assert sum(copies) - len(people) <= policy.max_in_flight
    assert await community.counts(broadcast_id) == DeliveryCounts(sent=41)
    assert (await community.view(broadcast_id)).recipients == 41, "each recipient queued once"


async def test_pause_holds_everything_left_until_resume(community):
    admin = await community.admin("en")
    people = [await community.member("en") for _ in range(20)]
    await compose(admin, {"en": "Registration rules change on 1 March"}, "bc:aud:all")
    broadcast_id = await send_now(community, admin)
    service = community.service()
    await service.run_once()
    pressed: list[list[Reply]] = []

    async def send_then_pause(chat_id: str, message: Message) -> str:
        message_id = await community.sender.send(chat_id, message)
        if len(community.served.playground.received) >= 6 and not pressed:
            pressed.append([])  # claimed before awaiting: other sends finish meanwhile
            pressed[0] = await admin.press(f"bc:pause:{broadcast_id}")
        return message_id

    await community.worker(send=send_then_pause).run_until_idle()
    [replies] = pressed
    assert toasts(replies) == ["Paused."] and "▶️ Resume" in buttons(replies)
    paused = await community.view(broadcast_id)
    assert paused.status is BroadcastStatus.PAUSED and paused.counts.queued > 0
    sent_before = sum(len(community.received(person)) for person in people)

    await community.worker().run_until_idle()
    await service.run_once(report_now=True)
    assert sum(len(community.received(person)) for person in people) == sent_before
    assert "is paused" in community.reports(admin)[-1]["text"]

    replies = await admin.press(f"bc:resume:{broadcast_id}")
    assert toasts(replies) == ["Sending again."]
    await community.deliver(community.worker(), service)

    assert all(community.received(person) == ["Registration rules change on 1 March"]
               for person in people)  # fmt: skip
    view = await community.view(broadcast_id)
    assert view.status is BroadcastStatus.DONE and view.counts == DeliveryCounts(sent=21)
    assert [entry.action for entry in await community.audit()][:2] == [
        "broadcast.resume",
        "broadcast.pause",
    ]


async def test_cancel_asks_first_then_withdraws_everything_not_sent_yet(community):
    admin = await community.admin("en")
    people = [await community.member("en") for _ in range(20)]
    await compose(admin, {"en": "Wrong date, sorry"}, "bc:aud:all")
    broadcast_id = await send_now(community, admin)
    service = community.service()
    await service.run_once()
    questions: list[str] = []

    async def send_then_cancel(chat_id: str, message: Message) -> str:
        message_id = await community.sender.send(chat_id, message)
        if len(community.served.playground.received) >= 6 and not questions:
            questions.append("")  # claimed before awaiting: other sends finish meanwhile
            questions[0] = texts(await admin.press(f"bc:cancel:{broadcast_id}"))
            await admin.press(f"bc:kill:{broadcast_id}")
        return message_id

    await community.worker(send=send_then_cancel).run_until_idle()
    await community.deliver(community.worker(), service)

    assert "have not received it yet and will not" in questions[0]
    copies = [len(community.received(person)) for person in people]
    assert max(copies) == 1 and sum(copies) < len(people)
    view = await community.view(broadcast_id)
    assert view.status is BroadcastStatus.CANCELLED
    assert view.counts.queued == 0 and view.counts.cancelled == len(people) + 1 - view.counts.sent
    [report] = community.reports(admin)
    assert "was cancelled" in report["text"] and "were not sent" in report["text"]
    assert (await community.audit())[0].action == "broadcast.cancel"


# --- permissions, muting, the audit log -----------------------------------------------------------


async def test_someone_who_is_not_an_admin_cannot_start_or_steer_a_broadcast(community):
    admin = await community.admin("en")
    await community.member("en")
    await compose(admin, {"en": "Only staff may send this"}, "bc:aud:all")
    broadcast_id = await send_now(community, admin)
    nosy = Person(community.conversation, user_id="777", language_code="en")
    await nosy.onboard("en")
    before, view_before = await community.snapshot(), await community.view(broadcast_id)

    assert REFUSAL in texts(await nosy.command("broadcast"))
    for forged in ("bc:aud:all", "bc:send", "bc:at", "bc:quit", f"bc:show:{broadcast_id}",
                   f"bc:pause:{broadcast_id}", f"bc:kill:{broadcast_id}"):  # fmt: skip
        assert REFUSAL in texts(await nosy.press(forged)), forged
    await nosy.say(Photo("photo-file", "Free pizza for everyone"))

    assert await community.snapshot() == before
    view_after = await community.view(broadcast_id)
    assert (view_after.status, view_after.counts) == (view_before.status, view_before.counts)


async def test_losing_the_admin_role_mid_flow_stops_the_flow_there(community):
    admin = await community.admin("en")
    await community.member("en")
    await compose(admin, {"en": "Almost sent"}, "bc:aud:all")
    async with community.sessionmaker() as session:
        user = await UserRepository(session).find("telegram", admin.user_id)
        assert user is not None
        user.roles = []
        await session.commit()
    before = await community.snapshot()

    assert REFUSAL in texts(await admin.press("bc:send"))
    assert await community.snapshot() == before


async def test_muted_people_are_left_out_and_the_settings_toggle_brings_them_back(community):
    admin = await community.admin("en")
    alice, bob = await community.member("en"), await community.member("en")
    bob_speaks = Person(community.conversation, user_id=str(bob.chat_id), language_code="en")

    stopped = await bob_speaks.command("stop")
    assert "you will not receive announcements" in texts(stopped)
    replies = await compose(admin, {"en": "First news"}, "bc:aud:all")
    assert "In total: 2 people." in texts(replies), "the admin and Alice"
    await send_now(community, admin)
    await community.deliver(community.worker(), community.service())
    assert community.received(alice) == ["First news"] and community.received(bob) == []

    settings = await bob_speaks.press("menu:settings")
    assert "🔕 Announcements: off" in buttons(settings)
    settings = await bob_speaks.press(buttons(settings)["🔕 Announcements: off"])
    assert "🔔 Announcements: on" in buttons(settings)
    await compose(admin, {"en": "Second news"}, "bc:aud:all")
    await send_now(community, admin)
    await community.deliver(community.worker(), community.service())
    assert community.received(bob) == ["Second news"]


async def test_muting_after_the_fan_out_still_keeps_the_message_away(community):
    admin = await community.admin("en")
    carol = await community.member("en")
    await compose(admin, {"en": "Late news"}, "bc:aud:all")
    broadcast_id = await send_now(community, admin)
    service = community.service()
    await service.run_once()  # Carol is queued...

    carol_speaks = Person(community.conversation, user_id=str(carol.chat_id), language_code="en")
    await carol_speaks.press("mute:on")  # ...then presses "Stop announcements" on an older one
    await community.deliver(community.worker(), service)

    assert community.received(carol) == []
    assert await community.counts(broadcast_id) == DeliveryCounts(sent=1, cancelled=1)


async def test_each_broadcast_is_in_the_audit_log_with_its_author(community):
    admin = await community.admin("en")
    await community.member("ar")
    await compose(admin, VERSIONS, "bc:aud:locales", "bc:tick:ar", "bc:done")
    broadcast_id = await send_now(community, admin)

    [entry] = await community.audit()
    async with community.sessionmaker() as session:
        author = await session.scalar(select(User).where(User.channel_user_id == admin.user_id))
    assert author is not None and entry.actor_id == author.id
    assert entry.action == "broadcast.send"
    assert entry.details["broadcast_id"] == broadcast_id
    assert entry.details["audience"] == {"kind": "locales", "locales": ["ar"]}
    assert entry.details["recipients"] == 1 and entry.details["locales"] == ["ar", "en", "it"]


# --- composing ---------------------------------------------------------------------------------


async def test_the_composer_says_exactly_what_is_wrong(community):
    admin = await community.admin("en")
    await community.member("en")
    await admin.command("broadcast")

    assert "The announcement is empty" in texts(await admin.text("   "))
    assert "too long" in texts(await admin.text("x" * 5000))
    assert "1 version so far" in texts(await admin.text("Hello"))
    assert "This button has expired" in texts(await admin.press("bc:send")), "not at this step"
    await admin.press("bc:next")
    await admin.press("bc:aud:locales")
    assert toasts(await admin.press("bc:done")) == ["Please tick at least one."]
    await admin.press("bc:audience")
    await admin.press("bc:aud:all")

    await admin.press("bc:when")
    assert "I could not read that date" in texts(await admin.text("tomorrow evening"))
    assert "I could not read that date" in texts(await admin.text("31/02/2027 10:00"))
    past = utcnow().astimezone(community.conversation.settings.zone) - timedelta(days=1)
    assert "already passed" in texts(await admin.text(local_time(past)))
    far = utcnow().astimezone(community.conversation.settings.zone) + timedelta(days=400)
    assert "within the next year" in texts(await admin.text(local_time(far)))
    soon = utcnow().astimezone(community.conversation.settings.zone) + timedelta(days=2)
    assert "Send it to 2 people on" in texts(await admin.text(local_time(soon)))


async def test_versions_can_be_added_replaced_and_the_flow_cancelled(community):
    admin = await community.admin("en")
    await admin.command("broadcast")
    await admin.text("Hello")
    await admin.press("bc:add")
    await admin.press("bc:lang:ar")
    await admin.text("مرحبا")
    await admin.press("bc:add")
    picker = await admin.press("bc:lang:ar")
    assert "مرحبا" in texts(picker), "the text it replaces is shown"
    replies = await admin.text("أهلا وسهلا")
    assert "2 versions so far" in texts(replies)

    replies = await admin.press("bc:quit")
    assert "Nothing was sent" in texts(replies)
    async with community.sessionmaker() as session:
        assert await session.scalar(select(Flow)) is None
    assert (await community.snapshot())["broadcasts"] == 0


async def test_a_scheduled_broadcast_waits_for_its_time_shown_in_the_admins_language(community):
    admin = await community.admin("it")
    giulia = await community.member("it")
    zone = community.conversation.settings.zone
    when = (utcnow() + timedelta(days=3)).astimezone(zone).replace(second=0, microsecond=0)
    await compose(admin, {"it": "Festa dei volontari sabato!"}, "bc:aud:all")
    await admin.press("bc:when")

    asked = texts(await admin.text(local_time(when)))
    scheduled = await admin.press("bc:at")

    date = format_date(when, "full", locale="it")
    assert date in asked and date in texts(scheduled)
    assert (await community.audit())[0].action == "broadcast.schedule"
    clock = ManualClock()
    worker, service = community.worker(clock=clock), community.service(clock=clock)
    await community.deliver(worker, service)
    assert community.received(giulia) == []
    broadcast_id = await community.newest_broadcast()
    assert (await community.view(broadcast_id)).status is BroadcastStatus.SCHEDULED

    clock.advance(timedelta(days=3, minutes=1))
    await community.deliver(worker, service)
    assert community.received(giulia) == ["Festa dei volontari sabato!"]


async def test_a_scheduled_broadcast_can_be_cancelled_before_it_starts(community):
    admin = await community.admin("en")
    sam = await community.member("en")
    zone = community.conversation.settings.zone
    await compose(admin, {"en": "Never mind"}, "bc:aud:all")
    await admin.press("bc:when")
    await admin.text(local_time((utcnow() + timedelta(days=1)).astimezone(zone)))
    await admin.press("bc:at")
    broadcast_id = await community.newest_broadcast()

    assert "Nobody will get it" in texts(await admin.press(f"bc:cancel:{broadcast_id}"))
    await admin.press(f"bc:kill:{broadcast_id}")
    clock = ManualClock()
    clock.advance(timedelta(days=2))
    await community.deliver(community.worker(clock=clock), community.service(clock=clock))

    assert community.received(sam) == []
    assert (await community.view(broadcast_id)).status is BroadcastStatus.CANCELLED


async def test_a_photo_goes_with_its_caption_and_a_long_text_follows_the_photo(community):
    admin = await community.admin("en")
    sam, amina = await community.member("en"), await community.member("ar")
    long_arabic = "يوم المتطوعين " * 100  # over the 1,024 characters a caption may have
    versions = {"en": "Volunteers' Day poster", "ar": long_arabic}

    await compose(admin, versions, "bc:aud:all", photo=("poster-file-id", versions["en"]))
    await send_now(community, admin)
    await community.deliver(community.worker(), community.service())

    assert community.received(sam) == ["[photo] Volunteers' Day poster"]
    assert community.received(amina) == ["[photo]", long_arabic.strip()]


async def test_a_photo_outside_the_broadcast_flow_gets_the_usual_explanation(community):
    person = Person(community.conversation, user_id="555", language_code="en")
    await person.onboard("en")

    replies = await person.say(Photo("photo-file", "look"))

    assert "I can't look at pictures" in texts(replies)


# --- progress -------------------------------------------------------------------------------------


async def test_the_author_sees_progress_in_one_message_then_the_final_report(community):
    admin = await community.admin("en")
    for _ in range(6):
        await community.member("en")
    await compose(admin, {"en": "Hello"}, "bc:aud:all")
    broadcast_id = await send_now(community, admin)
    service = community.service()

    await service.run_once()
    [progress] = community.reports(admin)
    assert f"Broadcast #{broadcast_id} is being sent." in progress["text"]
    labels = [key["text"] for row in progress["reply_markup"]["inline_keyboard"] for key in row]
    assert labels[:2] == ["⏸ Pause", "✖️ Cancel the broadcast"]

    await community.deliver(community.worker(), service)
    [report] = community.reports(admin)
    assert report["message_id"] == progress["message_id"], "the same message, edited"
    assert "is finished" in report["text"] and "Sent: 7" in report["text"]
    assert "▓▓▓▓▓▓▓▓▓▓ 100%" in report["text"] and "reply_markup" not in report


async def test_progress_shows_the_time_left_and_is_edited_at_most_once_per_interval(community):
    admin = await community.admin("it")
    for _ in range(10):
        await community.member("en")
    await compose(admin, {"it": "Ciao"}, "bc:aud:all")
    assert toasts(await admin.press("bc:send")) == ["Invio in corso!"]
    broadcast_id = await community.newest_broadcast()
    clock = ManualClock()
    service = community.service(clock=clock, report_every=30)
    delivered: list[str] = []

    async def first_four_only(chat_id: str, message: Message) -> object:
        if len(delivered) >= 4:
            raise TemporaryFailure("the network is down")
        delivered.append(chat_id)
        return await community.sender.send(chat_id, message)

    def reports() -> list[dict]:
        heading = f"L'annuncio #{broadcast_id} è in fase di invio."
        return [m for m in community.chat(admin) if heading in m.get("text", "")]

    slow_retries = DeliveryPolicy(rate=0, max_in_flight=1, retry_backoff=timedelta(hours=1))
    edits = community.served.playground.stats.calls

    await service.run_once()  # the recipients are queued; the progress message is posted
    await community.worker(slow_retries, send=first_four_only).run_until_idle()
    [progress] = reports()
    assert "Sto calcolando il tempo rimanente…" in progress["text"], "nothing was sent yet"
    clock.advance(timedelta(seconds=20))
    await service.run_once()
    assert edits.get("editmessagetext", 0) == 0, "20 s after the last report: not yet"
    assert reports() == [progress]

    clock.advance(timedelta(seconds=15))
    await service.run_once()
    [edited] = reports()
    assert edits.get("editmessagetext", 0) == 1
    assert edited["message_id"] == progress["message_id"]
    assert "Tempo rimanente: circa" in edited["text"] and "left" not in edited["text"]
    assert "Inviati: 4 ·" in edited["text"] and (await community.counts(broadcast_id)).sent == 4

    clock.advance(timedelta(seconds=29))
    await service.run_once()
    assert edits.get("editmessagetext", 0) == 1, "again within the interval: no edit"


# --- the real bot, end to end ------------------------------------------------------------------


async def test_end_to_end_a_broadcast_survives_stopping_and_restarting_the_bot(
    settings, served, client
):
    admin = await client.add_user("Sara", "en")
    bot_settings = settings.model_copy(
        update={"admin_ids": frozenset({admin.id}), "delivery_rate": 15.0}
    )
    engine = create_engine(settings.database_url)
    sessionmaker = create_sessionmaker(engine)
    received = served.playground.received

    async with run_bot(bot_settings, served):
        async with sessionmaker() as session:
            users = UserRepository(session)
            for person in [admin.profile] + [served.playground.add_user(f"P{i}", "en")
                                             for i in range(24)]:  # fmt: skip
                user = await users.create("telegram", str(person["id"]), "en")
                await users.give_consent(user)
            await session.commit()
        people = [chat for chat in served.playground.users if chat != admin.id]
        await admin.send("/broadcast")
        assert "Write the announcement in English" in (await admin.next_reply())["text"]
        await admin.send("The library opens on Sundays now.")
        assert "1 version so far" in (await admin.next_reply())["text"]
        await admin.press("Next: who gets it")
        await admin.next_reply()
        await admin.press("Everyone")
        summary = [await admin.next_reply() for _ in range(3)][-1]
        assert "In total: 25 people." in summary["text"]
        await admin.press("Send now")

        async def some_arrived() -> bool:
            return sum(received[chat] for chat in people) >= 5

        await eventually(some_arrived)
    assert sum(received[chat] for chat in people) < len(people), "stopped mid-way"

    async with run_bot(bot_settings, served):

        async def all_arrived() -> bool:
            return all(received[chat] for chat in people)

        await eventually(all_arrived)
        report = None
        for _ in range(200):
            chat = served.playground.transcript(admin.id)
            report = next((m["text"] for m in chat if "is finished" in m.get("text", "")), None)
            if report:
                break
            await asyncio.sleep(0.05)
    await engine.dispose()

    assert [received[chat] for chat in people] == [1] * len(people), "exactly one copy each"
    assert report is not None and "Sent: 25" in report


def test_the_telegram_adapter_hands_photos_to_the_conversation_with_their_caption():
    sara = TelegramUser(4242, "Sara", is_bot=False, language_code="en")
    sizes = (PhotoSize("small-id", "s", 90, 60), PhotoSize("large-id", "l", 1280, 853))
    adapter = TelegramChannel(conversation=None)  # type: ignore[arg-type]

    def event_for(chat: Chat) -> object:
        sent = TelegramMessage(1, utcnow(), chat, from_user=sara, photo=sizes, caption="Poster")
        event = adapter.to_event(Update(1, message=sent), "passaparola_demo_bot")
        return event.input if event else None

    assert event_for(Chat(4242, Chat.PRIVATE)) == Photo("large-id", "Poster")
    assert event_for(Chat(-500, Chat.GROUP, title="Newcomers")) is None
