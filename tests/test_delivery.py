"""The delivery queue: every reachable user gets exactly one copy, in their language, politely."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.error import Forbidden

from bot.channels.telegram import TelegramSender, delivery_error
from bot.delivery import DeliveryPolicy, DeliveryWorker, RateLimited, Send
from bot.i18n import Translator
from bot.metrics import Metrics
from bot.turn import Key, Message
from handlers.notifications import renders
from storage.db import create_engine, create_sessionmaker, migrate
from storage.deliveries import DeliveryCounts, DeliveryRepository
from storage.models import User, UserStatus, utcnow
from storage.users import UserRepository
from tests.support.servers import RunningPlayground, run_bot

FAST = DeliveryPolicy(rate=500, batch_size=10, max_in_flight=8)
GREETING = {"texts": {"en": "Hello!", "ar": "مرحبا!", "it": "Ciao!"}}


@renders("test-invitation")
async def invitation(
    session: AsyncSession, t: Translator, user: User, payload: dict[str, Any]
) -> Message | None:
    """A notification with a button; a withdrawn invitation is no longer relevant."""
    if payload.get("withdrawn"):
        return None
    return Message(t._("Change the language"), ((Key("OK", data=f"inv:open:{payload['id']}"),),))


@dataclass
class ManualClock:
    """Time that moves only when the test says so."""

    now: datetime = field(default_factory=utcnow)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class Recipient:
    """One person: in the playground (chat id) and in the users table (user id)."""

    chat_id: int
    user_id: int
    locale: str


@dataclass
class Queue:
    """A migrated database, the playground, and a sender: everything a worker needs."""

    sessionmaker: async_sessionmaker[AsyncSession]
    served: RunningPlayground
    sender: TelegramSender
    catalog: Any

    def worker(self, policy: DeliveryPolicy = FAST, **options: Any) -> DeliveryWorker:
        """A worker on this queue."""
        options.setdefault("send", self.sender.send)
        return DeliveryWorker(self.sessionmaker, self.catalog, policy=policy, **options)

    async def recipients(self, *locales: str, stopped: bool = False) -> list[Recipient]:
        """New users who chose these languages and consented."""
        people = []
        async with self.sessionmaker() as session:
            users = UserRepository(session)
            for index, locale in enumerate(locales):
                profile = self.served.playground.add_user(f"Person {index}", locale)
                user = await users.create("telegram", str(profile["id"]), locale)
                await users.give_consent(user)
                if stopped:
                    await users.mark_stopped(user)
                people.append(Recipient(profile["id"], user.id, locale))
            await session.commit()
        return people

    async def enqueue(
        self, people: list[Recipient], payload: dict[str, Any] = GREETING, **options: Any
    ) -> int:
        """Queue the same `text` notification for these people."""
        async with self.sessionmaker() as session:
            queued = await DeliveryRepository(session).enqueue_many(
                [person.user_id for person in people], "text", payload, **options
            )
            await session.commit()
        return queued

    async def counts(self) -> DeliveryCounts:
        """Deliveries per state."""
        async with self.sessionmaker() as session:
            return await DeliveryRepository(session).counts()

    async def status(self, person: Recipient) -> UserStatus:
        """Whether we may still write to the person."""
        async with self.sessionmaker() as session:
            return (await session.get_one(User, person.user_id)).status

    def received(self, person: Recipient) -> list[str]:
        """The texts the bot sent to the person."""
        return [message["text"] for message in self.served.playground.transcript(person.chat_id)]

    def sends(self) -> int:
        """sendMessage calls the playground answered, successful or not."""
        return self.served.playground.stats.calls.get("sendmessage", 0)


@pytest.fixture
async def queue(settings, served, catalog) -> AsyncIterator[Queue]:
    """An empty queue on a fresh SQLite file, sending to the playground over HTTP."""
    engine = create_engine(settings.database_url)
    await migrate(engine)
    sender = TelegramSender(served.playground.token, served.url)
    await sender.initialize()
    yield Queue(create_sessionmaker(engine), served, sender, catalog)
    await sender.shutdown()
    await engine.dispose()


async def test_every_reachable_user_gets_exactly_one_copy(queue):
    people = await queue.recipients(*["en"] * 25)
    assert await queue.enqueue(people) == 25

    await queue.worker().run_until_idle()

    assert all(queue.received(person) == ["Hello!"] for person in people)
    assert await queue.counts() == DeliveryCounts(sent=25)


async def test_users_who_blocked_the_bot_are_stopped_and_not_written_to_again(queue):
    reachable = await queue.recipients("en", "en", "en")
    blocking = await queue.recipients("en", "ar")
    already_stopped = await queue.recipients("it", stopped=True)
    for person in blocking:
        await queue.served.playground.user_blocks(person.chat_id)
    await queue.enqueue(reachable + blocking + already_stopped)

    await queue.worker().run_until_idle()

    assert all(queue.received(person) == ["Hello!"] for person in reachable)
    assert [await queue.status(person) for person in blocking] == [UserStatus.STOPPED] * 2
    assert await queue.counts() == DeliveryCounts(sent=3, blocked=3)
    assert queue.sends() == 5, "nobody tries to write to a user already known to be stopped"

    await queue.enqueue(blocking, {"texts": {"en": "Again?"}})
    await queue.worker().run_until_idle()
    assert queue.sends() == 5


async def test_metrics_count_each_outcome_and_the_deliveries_due_now(queue):
    metrics = Metrics()
    reachable = await queue.recipients("en", "en")
    [blocking] = await queue.recipients("ar")
    tomorrow = await queue.recipients("en")
    await queue.served.playground.user_blocks(blocking.chat_id)
    await queue.enqueue([*reachable, blocking])
    await queue.enqueue(tomorrow, due_at=utcnow() + timedelta(days=1))

    await queue.worker(replace(FAST, idle_interval=0), observer=metrics).run_until_idle()

    def messages(outcome: str) -> float | None:
        labels = {"source": "delivery", "outcome": outcome}
        return metrics.registry.get_sample_value("passaparola_messages_total", labels)

    assert (messages("sent"), messages("blocked"), messages("failed")) == (2, 1, 0)
    assert metrics.registry.get_sample_value("passaparola_delivery_queue_depth") == 0


async def test_only_a_block_or_a_deleted_account_stops_a_user(queue):
    [person] = await queue.recipients("en")
    queue.served.playground.chats.pop(person.chat_id)  # "Bad Request: chat not found"
    await queue.enqueue([person])

    await queue.worker().run_until_idle()

    assert await queue.status(person) is UserStatus.ACTIVE
    assert await queue.counts() == DeliveryCounts(failed=1)


async def test_a_429_pauses_sending_and_the_message_is_sent_once_after_it(queue, client):
    people = await queue.recipients(*["en"] * 8)
    await queue.enqueue(people)
    await client.add_fault("429", method="sendMessage", chat_id=people[3].chat_id, retry_after=1)

    await queue.worker().run_until_idle()

    assert all(queue.received(person) == ["Hello!"] for person in people)
    assert queue.served.playground.stats.errors == {429: 1}
    assert await queue.counts() == DeliveryCounts(sent=8)


async def test_a_deactivated_account_stops_the_user(queue):
    gone, staying = await queue.recipients("en", "en")

    async def send(chat_id: str, message: Message) -> object:
        if chat_id == str(gone.chat_id):  # what the Bot API says about a deleted account
            raise delivery_error(Forbidden("Forbidden: user is deactivated"))
        return await queue.sender.send(chat_id, message)

    await queue.enqueue([gone, staying])
    await queue.worker(send=send).run_until_idle()
    await queue.enqueue([gone], {"texts": {"en": "Still there?"}})
    await queue.worker().run_until_idle()

    assert await queue.status(gone) is UserStatus.STOPPED
    assert await queue.status(staying) is UserStatus.ACTIVE
    assert queue.received(staying) == ["Hello!"]
    assert queue.sends() == 1, "nobody writes to the deleted account again"
    assert await queue.counts() == DeliveryCounts(sent=1, blocked=2)


async def test_a_429_holds_back_every_other_message_until_retry_after(queue, client):
    people = await queue.recipients(*["en"] * 8)
    await queue.enqueue(people)
    await client.add_fault("429", method="sendMessage", chat_id=people[1].chat_id, retry_after=1)
    loop = asyncio.get_running_loop()
    started: list[float] = []
    limited_at: list[float] = []

    async def send(chat_id: str, message: Message) -> object:
        started.append(loop.time())
        try:
            return await queue.sender.send(chat_id, message)
        except RateLimited:
            limited_at.append(loop.time())
            raise

    await queue.worker(
        DeliveryPolicy(rate=0, batch_size=8, max_in_flight=4), send=send
    ).run_until_idle()

    [limited] = limited_at
    later = [moment for moment in started if moment > limited]
    assert len(later) >= 4, "the retry and the messages not yet started waited"
    assert min(later) >= limited + 1, "nothing at all was sent during retry_after"
    assert all(queue.received(person) == ["Hello!"] for person in people)
    assert await queue.counts() == DeliveryCounts(sent=8)


async def test_flood_control_loses_and_repeats_nothing(queue, client):
    people = await queue.recipients(*["en"] * 12)
    await queue.enqueue(people)
    await client.set_rate(per_second=5)  # the worker below asks for far more

    await queue.worker(DeliveryPolicy(rate=100, batch_size=6, max_in_flight=4)).run_until_idle()

    assert queue.served.playground.stats.errors.get(429, 0) > 0
    assert all(queue.received(person) == ["Hello!"] for person in people)
    assert await queue.counts() == DeliveryCounts(sent=12)


async def test_server_errors_are_retried_with_backoff_without_holding_up_others(queue, client):
    people = await queue.recipients("en", "en", "en")
    await queue.enqueue(people)
    unlucky = people[1]
    await client.add_fault("5xx", method="sendMessage", chat_id=unlucky.chat_id, count=2)
    clock = ManualClock()
    worker = queue.worker(clock=clock)

    await worker.run_until_idle()
    assert queue.received(people[0]) == queue.received(people[2]) == ["Hello!"]
    assert queue.received(unlucky) == [], "the retry waits for its backoff"

    clock.advance(FAST.retry_backoff)
    await worker.run_until_idle()
    assert queue.received(unlucky) == []
    clock.advance(FAST.retry_backoff * 2)
    await worker.run_until_idle()

    assert queue.received(unlucky) == ["Hello!"]
    assert await queue.counts() == DeliveryCounts(sent=3)


async def test_persistent_server_errors_fail_after_the_attempt_limit(queue, client):
    [person] = await queue.recipients("en")
    await queue.enqueue([person])
    await client.add_fault("5xx", method="sendMessage", count=100)
    clock = ManualClock()
    worker = queue.worker(clock=clock)

    for _ in range(FAST.max_attempts + 2):
        await worker.run_until_idle()
        clock.advance(timedelta(days=1))

    assert queue.sends() == FAST.max_attempts
    assert await queue.counts() == DeliveryCounts(failed=1)
    assert await queue.status(person) is UserStatus.ACTIVE


async def test_a_stopped_worker_leaves_the_rest_to_the_next_one(queue, client):
    people = await queue.recipients(*["en"] * 40)
    await queue.enqueue(people)
    await client.add_fault("slow", method="sendMessage", delay=0.05, count=1000)
    first = queue.worker(DeliveryPolicy(rate=40, batch_size=10, max_in_flight=4))

    first.start()
    await eventually(lambda: sent_at_least(queue, 5))
    await first.stop()
    assert (await queue.counts()).queued > 0, "stopped in the middle of the run"
    await queue.worker().run_until_idle()

    assert all(queue.received(person) == ["Hello!"] for person in people)
    assert await queue.counts() == DeliveryCounts(sent=40)


async def test_after_a_crash_only_messages_in_flight_may_repeat_and_nobody_is_skipped(
    queue, client
):
    people = await queue.recipients(*["en"] * 40)
    await queue.enqueue(people)
    await client.add_fault("slow", method="sendMessage", delay=0.2, count=1000)
    clock = ManualClock()
    policy = DeliveryPolicy(rate=0, batch_size=10, max_in_flight=4)
    crashing = asyncio.create_task(queue.worker(policy, clock=clock).run_until_idle())

    await eventually(lambda: sent_at_least(queue, 6))
    crashing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await crashing
    await client.call("DELETE", "/faults")
    successor = queue.worker(policy, clock=clock)
    await successor.run_until_idle()
    assert (await queue.counts()).queued > 0, "the crashed worker's batch waits for its lease"
    clock.advance(policy.lease)
    await successor.run_until_idle()

    copies = [len(queue.received(person)) for person in people]
    assert min(copies) == 1, "nobody is skipped"
    assert sum(copies) - len(people) <= policy.max_in_flight
    assert await queue.counts() == DeliveryCounts(sent=40)


async def test_a_dedupe_key_queues_a_message_once_and_cancel_withdraws_it(queue):
    amina, sam = await queue.recipients("ar", "en")
    async with queue.sessionmaker() as session:
        deliveries = DeliveryRepository(session)
        first = await deliveries.enqueue(amina.user_id, "text", GREETING, dedupe_key="hi:1")
        again = await deliveries.enqueue(amina.user_id, "text", GREETING, dedupe_key="hi:1")
        await deliveries.enqueue(sam.user_id, "text", GREETING, dedupe_key="reminder:7")
        assert await deliveries.cancel("reminder:7")
        await session.commit()
    assert (first, again) == (True, False)
    assert await queue.enqueue([amina, sam], dedupe_prefix="news:1:") == 2
    assert await queue.enqueue([amina, sam], dedupe_prefix="news:1:") == 0

    await queue.worker().run_until_idle()

    assert queue.received(amina) == ["مرحبا!", "مرحبا!"]  # "hi:1" and "news:1:"
    assert queue.received(sam) == ["Hello!"]  # only "news:1:"
    assert await queue.counts() == DeliveryCounts(sent=3, cancelled=1)


async def test_a_scheduled_message_is_sent_when_due_and_not_before(queue):
    early_bird, planner = await queue.recipients("en", "en")
    await queue.enqueue([early_bird])
    clock = ManualClock()
    async with queue.sessionmaker() as session:
        tomorrow = clock.now + timedelta(days=1)
        await DeliveryRepository(session).enqueue(
            planner.user_id, "text", {"texts": {"en": "Tomorrow!"}}, due_at=tomorrow
        )
        await session.commit()
    worker = queue.worker(clock=clock)

    await worker.run_until_idle()
    assert queue.received(early_bird) == ["Hello!"]
    assert queue.received(planner) == []

    clock.advance(timedelta(days=1))
    await worker.run_until_idle()
    assert queue.received(planner) == ["Tomorrow!"]


async def test_two_workers_on_one_queue_reach_every_recipient_exactly_once(
    queue, settings, served, catalog
):
    people = await queue.recipients(*["en"] * 60)
    await queue.enqueue(people)
    await queue.served.playground.user_blocks(people[7].chat_id)
    other_engine = create_engine(settings.database_url)
    other_sender = TelegramSender(served.playground.token, served.url)
    await other_sender.initialize()
    sent_by: dict[str, int] = {"first": 0, "second": 0}
    policy = DeliveryPolicy(rate=0, batch_size=5, max_in_flight=4)
    first = queue.worker(policy, send=counting(queue.sender.send, sent_by, "first"))
    second = DeliveryWorker(
        create_sessionmaker(other_engine),
        catalog,
        counting(other_sender.send, sent_by, "second"),
        policy=policy,
    )

    await asyncio.gather(first.run_until_idle(), second.run_until_idle())
    await other_sender.shutdown()
    await other_engine.dispose()

    assert [len(queue.received(person)) for person in people].count(1) == 59
    assert queue.received(people[7]) == []
    assert queue.sends() == 60
    assert sent_by["first"] > 0 and sent_by["second"] > 0, "both workers took part"
    assert await queue.counts() == DeliveryCounts(sent=59, blocked=1)


async def test_a_message_is_rendered_in_each_users_own_language(queue):
    amina, giulia, mehmet = await queue.recipients("ar", "it", "tr")
    await queue.enqueue([amina, giulia, mehmet])
    await queue.enqueue([amina, mehmet], {"texts": {"it": "Solo italiano"}})

    await queue.worker().run_until_idle()

    assert queue.received(amina) == ["مرحبا!", "Solo italiano"]
    assert queue.received(giulia) == ["Ciao!"]
    assert queue.received(mehmet) == ["Hello!", "Solo italiano"], "default locale, else any"


async def test_a_registered_kind_renders_buttons_and_a_stale_one_is_cancelled(queue):
    amina, sam = await queue.recipients("ar", "en")
    async with queue.sessionmaker() as session:
        deliveries = DeliveryRepository(session)
        await deliveries.enqueue(amina.user_id, "test-invitation", {"id": 5})
        await deliveries.enqueue(sam.user_id, "test-invitation", {"id": 6, "withdrawn": True})
        await deliveries.enqueue(sam.user_id, "no-such-kind", {})
        await session.commit()

    await queue.worker().run_until_idle()

    [card] = queue.served.playground.transcript(amina.chat_id)
    assert card["text"] == "تغيير اللغة"
    assert card["reply_markup"]["inline_keyboard"] == [
        [{"text": "OK", "callback_data": "inv:open:5"}]
    ]
    assert queue.received(sam) == []
    assert await queue.counts() == DeliveryCounts(sent=1, cancelled=1, failed=1)


async def test_housekeeping_runs_when_the_worker_starts_and_its_changes_are_kept(queue):
    [person] = await queue.recipients("it")

    async def announce_opening_hours(session: AsyncSession) -> None:
        payload = {"texts": {"it": "Aperti fino alle 18"}}
        await DeliveryRepository(session).enqueue(person.user_id, "text", payload)

    worker = queue.worker()
    worker.add_housekeeping(announce_opening_hours)
    await worker.run_until_idle()

    assert queue.received(person) == ["Aperti fino alle 18"]


async def test_the_running_bot_delivers_and_a_user_who_unblocks_is_reachable_again(
    settings, served, client
):
    sam = await client.add_user("Sam", "en")
    engine = create_engine(settings.database_url)
    sessionmaker = create_sessionmaker(engine)

    async def enqueue(words: str) -> None:
        async with sessionmaker() as session:
            user = await UserRepository(session).find("telegram", str(sam.id))
            await DeliveryRepository(session).enqueue(user.id, "text", {"texts": {"en": words}})
            await session.commit()

    async def status() -> UserStatus:
        async with sessionmaker() as session:
            return (await UserRepository(session).find("telegram", str(sam.id))).status

    async with run_bot(settings, served):
        async with sessionmaker() as session:
            user = await UserRepository(session).create("telegram", str(sam.id), "en")
            await UserRepository(session).give_consent(user)
            await session.commit()
        await enqueue("First news")
        assert (await sam.next_reply())["text"] == "First news"

        await sam.block()
        await eventually(status, UserStatus.STOPPED)
        await sam.block(blocked=False)
        await eventually(status, UserStatus.ACTIVE)
        await enqueue("Second news")
        assert (await sam.next_reply())["text"] == "Second news"
    await engine.dispose()


async def test_three_workers_on_one_engine_claim_every_delivery_once_and_dedupe(settings, catalog):
    engine = create_engine(settings.database_url)
    await migrate(engine)
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as session:
        users = [
            await UserRepository(session).create("telegram", str(1000 + index), "en")
            for index in range(30)
        ]
        deliveries = DeliveryRepository(session)
        ids = [user.id for user in users]
        assert await deliveries.enqueue_many(ids, "text", GREETING, dedupe_prefix="pg:") == 30
        assert await deliveries.enqueue_many(ids, "text", GREETING, dedupe_prefix="pg:") == 0
        await session.commit()
    received: list[str] = []

    async def send(chat_id: str, message: Message) -> None:
        await asyncio.sleep(0)
        received.append(chat_id)

    policy = DeliveryPolicy(rate=0, batch_size=4, max_in_flight=3)
    workers = [DeliveryWorker(sessionmaker, catalog, send, policy=policy) for _ in range(3)]
    await asyncio.gather(*(worker.run_until_idle() for worker in workers))
    async with sessionmaker() as session:
        counts = await DeliveryRepository(session).counts(dedupe_prefix="pg:")
    await engine.dispose()

    assert sorted(received) == sorted(str(1000 + index) for index in range(30))
    assert counts == DeliveryCounts(sent=30)


# --- helpers ---------------------------------------------------------------------------------


def counting(send: Send, tally: dict[str, int], name: str) -> Send:
    """`send`, counting its successes under `name`."""

    async def counted(chat_id: str, message: Message) -> None:
        await send(chat_id, message)
        tally[name] += 1

    return counted


async def sent_at_least(queue: Queue, number: int) -> bool:
    """True once `number` deliveries were recorded as sent."""
    return (await queue.counts()).sent >= number


async def eventually(probe: Callable[[], Any], expected: Any = True, attempts: int = 200) -> None:
    """Wait (bounded) until an asynchronous effect becomes visible."""
    for _ in range(attempts):
        if await probe() == expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never became {expected!r}")
