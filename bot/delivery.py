"""The delivery worker: drains the `deliveries` queue at the channel's pace, durably.

Everything the bot sends that is not a reply to an update goes through here: notifications,
reminders and broadcasts. The worker leases small batches of due rows, renders the messages a few
at a time (`max_in_flight` of them, in one short session) just before they are sent, in each
recipient's language, sends them through a channel-neutral `send` callable, and records every
outcome before the send's slot is freed. Outcomes are written by group commit: the ones that
arrive while a transaction commits are written together in the next one, so the database sees one
commit per handful of messages instead of one per message, and no session is held across a send.

Crash safety: a slot is held from the send until its outcome is committed, so after a crash at
most `max_in_flight` messages can have gone out without being recorded; only those may be sent
twice. Everything else is either recorded or still queued, and is sent by the next worker.

What a send may raise, and what the worker does:

- `RateLimited`: pause *all* sending for `retry_after`, then send the same message again.
- `RecipientGone`: the user blocked us or deleted their account: stop them, mark it blocked.
- `TemporaryFailure` (and anything unexpected): try again later with a growing backoff; after
  `max_attempts` the delivery has failed. Other messages go on meanwhile.
- `Undeliverable`: the channel refused this message for good: it has failed.

A renderer may raise `Postponed(until)`: the delivery stays queued, due again at `until`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from aiolimiter import AsyncLimiter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import Catalog
from bot.turn import Message
from handlers.notifications import Postponed, render
from storage.deliveries import ClaimedDelivery, DeliveryRepository
from storage.models import Delivery, DeliveryStatus, User, UserStatus, utcnow
from storage.users import UserRepository

logger = logging.getLogger(__name__)

Send = Callable[[str, Message], Awaitable[object]]  # (channel user id, message); raises below
Clock = Callable[[], datetime]
Housekeeping = Callable[[AsyncSession], Awaitable[object]]


class DeliveryObserver(Protocol):
    """Told how deliveries end and how long the queue is (for metrics)."""

    def delivery_outcome(self, outcome: str) -> None:
        """One delivery ended: "sent", "failed" or "blocked"."""

    def queued(self, due: int) -> None:
        """This many queued deliveries are due now."""


class DeliveryError(Exception):
    """A send did not go through; the subclass says what the worker should do about it."""


class RateLimited(DeliveryError):
    """The channel asks us to stop sending for `retry_after` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited for {retry_after:g}s")
        self.retry_after = retry_after


class RecipientGone(DeliveryError):
    """The user blocked the bot or deleted their account: write to them no more."""


class TemporaryFailure(DeliveryError):
    """Network trouble, a timeout or a server error: the same message may go through later."""


class Undeliverable(DeliveryError):
    """The channel refused this message for good (bad request, unknown chat, ...)."""


@dataclass(frozen=True)
class DeliveryPolicy:
    """How fast and how persistently the worker sends."""

    rate: float = 25.0  # messages per second, evenly spaced; 0 means no limit
    # Sends may go out together, this many seconds' worth: the event loop wakes less often and
    # its lateness is not lost to the rate; yet no second ever holds more than
    # rate × (1 + 1.5 × catch_up) + 1 sends. Below 200 messages/s: one at a time, no bursts.
    catch_up: float = 0.01
    batch_size: int = 50  # due rows leased per claim
    max_in_flight: int = 16  # sends not yet answered and recorded: at most these repeat on a crash
    max_attempts: int = 5  # sends that fail temporarily before the delivery has failed
    retry_backoff: timedelta = timedelta(seconds=10)  # doubles after every failed attempt
    lease: timedelta = timedelta(minutes=2)  # a crashed worker's batch is claimable after this
    lease_margin: timedelta = timedelta(seconds=30)  # no send starts this close to the lease end
    idle_interval: float = 1.0  # seconds between looks at an empty queue
    commit_gather: float = 0.005  # seconds a commit waits for more outcomes to write with it
    housekeeping_interval: float = 300.0  # seconds between housekeeping runs


class DeliveryWorker:
    """Drains due deliveries of one channel's users; start() it, stop() it, wake() it."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        catalog: Catalog,
        send: Send,
        *,
        channel: str = "telegram",
        policy: DeliveryPolicy | None = None,
        clock: Clock = utcnow,
        observer: DeliveryObserver | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.catalog = catalog
        self.send = send
        self.channel = channel
        self.policy = policy or DeliveryPolicy()
        self.clock = clock
        self.observer = observer
        rate = self.policy.rate
        # Sends are let through in blocks, one block every block/rate seconds: at high rates the
        # event loop then wakes once per block instead of once per message (measured in benches/:
        # a fifth less CPU per send). Room for half a block more absorbs the timer's lateness.
        # Below 200 messages/s a block is one message, and there is no extra room: no bursts.
        self._block = max(1, int(rate * self.policy.catch_up))
        room = self._block * 1.5 if self._block > 1 else 1
        self._limiter = AsyncLimiter(room, room / rate) if rate > 0 else None
        self._tickets = 0  # sends left in the current block
        self._limiter_line = asyncio.Lock()  # one send waits on the limiter, the rest behind it
        self._slots = asyncio.Semaphore(self.policy.max_in_flight)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._resume_at = 0.0  # event-loop time before which nothing is sent (429)
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._housekeeping: list[Housekeeping] = []
        self._next_housekeeping = 0.0
        self._next_look_at_queue = 0.0
        self._outcomes = GroupCommit(sessionmaker, self.policy.commit_gather)

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Run in the background until stop()."""
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(until_idle=False), name="delivery-worker")

    async def stop(self) -> None:
        """Finish the sends in flight, give back the rest of the batch, and return."""
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            task, self._task = self._task, None
            await task

    def wake(self) -> None:
        """Something was just queued: look now instead of after the idle interval."""
        self._wake.set()

    async def run_until_idle(self) -> None:
        """Deliver everything due now (retries due now included), then return."""
        self._stopping.clear()
        await self._run(until_idle=True)

    def add_housekeeping(self, job: Housekeeping) -> None:
        """Run `job(session)` at start and every housekeeping interval; its session is committed."""
        self._housekeeping.append(job)

    # --- the loop -----------------------------------------------------------------------

    async def _run(self, until_idle: bool) -> None:
        async with asyncio.TaskGroup() as group:
            while not self._stopping.is_set():
                await self._housekeep_if_due()
                await self._observe_queue_if_due()
                batch = await self._claim()
                if batch:
                    with suppress_and_log("could not dispatch deliveries"):
                        await self._dispatch(batch, group)
                elif not until_idle:
                    await self._idle()
                elif self._in_flight:
                    await asyncio.wait(set(self._in_flight))  # their retries may be due at once
                else:
                    return

    async def _claim(self) -> list[ClaimedDelivery]:
        now = self.clock()
        with suppress_and_log("could not claim deliveries"):
            async with self.sessionmaker() as session:
                batch = await DeliveryRepository(session).claim(
                    self.channel, self.policy.batch_size, now, now + self.policy.lease
                )
                await session.commit()
                return batch
        return []

    async def _dispatch(self, batch: list[ClaimedDelivery], group: asyncio.TaskGroup) -> None:
        """Render a few at a time, one task per send, at most max_in_flight at once.

        What is left when stopping, or close to the lease's end, goes back to the queue.
        """
        deadline = batch[0].lease - self.policy.lease_margin
        step = max(1, self.policy.max_in_flight)
        for start in range(0, len(batch), step):
            if self._stopping.is_set() or self.clock() >= deadline:
                await self._release(batch[start:])
                return
            ready = await self._prepare(batch[start : start + step])
            for index, item in enumerate(ready):
                await self._slots.acquire()
                if self._stopping.is_set() or self.clock() >= deadline:
                    self._slots.release()
                    unsent = [other.delivery for other in ready[index:]]
                    await self._release(unsent + batch[start + step :])
                    return
                task = group.create_task(self._deliver(item, deadline))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)

    async def _idle(self) -> None:
        with suppress(TimeoutError):
            async with asyncio.timeout(self.policy.idle_interval):
                await self._wake.wait()
        self._wake.clear()

    async def _housekeep_if_due(self) -> None:
        loop = asyncio.get_running_loop()
        if not self._housekeeping or loop.time() < self._next_housekeeping:
            return
        self._next_housekeeping = loop.time() + self.policy.housekeeping_interval
        for job in self._housekeeping:
            with suppress_and_log(f"housekeeping job {getattr(job, '__name__', job)} failed"):
                async with self.sessionmaker() as session:
                    await job(session)
                    await session.commit()

    async def _observe_queue_if_due(self) -> None:
        """Tell the observer how many deliveries are due, at most once per idle interval."""
        loop = asyncio.get_running_loop()
        if self.observer is None or loop.time() < self._next_look_at_queue:
            return
        self._next_look_at_queue = loop.time() + self.policy.idle_interval
        now = self.clock().astimezone(UTC)  # stored in UTC: SQLite drops the offset
        with suppress_and_log("could not count queued deliveries"):
            async with self.sessionmaker() as session:
                due = await session.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .where(Delivery.status == DeliveryStatus.QUEUED, Delivery.due_at <= now)
                )
            self.observer.queued(int(due or 0))

    def _observed(self, outcome: str) -> None:
        if self.observer is not None:
            self.observer.delivery_outcome(outcome)

    # --- one delivery -------------------------------------------------------------------

    async def _deliver(self, item: Ready, deadline: datetime) -> None:
        try:
            # If the database fails us, the lease runs out and the delivery is tried again.
            with suppress_and_log(f"delivery {item.delivery.id}: database error"):
                await self._send_until_settled(item.delivery, item.chat_id, item.message, deadline)
        finally:
            self._slots.release()

    async def _prepare(self, deliveries: Sequence[ClaimedDelivery]) -> list[Ready]:
        """The deliveries still due, each with its recipient's address and rendered message."""
        ready: list[Ready] = []
        rest = list(deliveries)
        while rest:
            with suppress_and_log("could not prepare deliveries"):
                prepared, rest = await self._prepare_some(rest)
                ready += prepared
                continue
            break  # the database failed us: these leases run out and are claimed again
        return ready

    async def _prepare_some(
        self, deliveries: list[ClaimedDelivery]
    ) -> tuple[list[Ready], list[ClaimedDelivery]]:
        """Render in one session until a renderer fails; returns the ready ones and the rest."""
        ready: list[Ready] = []
        endings: list[tuple[int, DeliveryStatus, str]] = []
        postponed: list[tuple[int, datetime]] = []
        rest: list[ClaimedDelivery] = []
        async with self.sessionmaker() as session:
            rows = {
                delivery_id: (status, user)
                for delivery_id, status, user in await session.execute(
                    select(Delivery.id, Delivery.status, User)
                    .join(User, User.id == Delivery.user_id)
                    .where(Delivery.id.in_([delivery.id for delivery in deliveries]))
                )
            }
            for index, delivery in enumerate(deliveries):
                status, user = rows.get(delivery.id, (None, None))
                if user is None or status is not DeliveryStatus.QUEUED:
                    continue  # cancelled, or the user asked to be forgotten, since the claim
                if user.status is not UserStatus.ACTIVE:
                    endings.append((delivery.id, DeliveryStatus.BLOCKED, f"user {user.status}"))
                    continue
                try:
                    message = await render(
                        delivery.kind,
                        session,
                        self.catalog.translator(user.locale),
                        user,
                        delivery.payload,
                        default_locale=self.catalog.default_locale,
                    )
                except Postponed as later:
                    postponed.append((delivery.id, later.until))
                    continue
                except Exception as error:
                    logger.exception(
                        "delivery %s: cannot render kind %r", delivery.id, delivery.kind
                    )
                    endings.append(
                        (delivery.id, DeliveryStatus.FAILED, f"render: {type(error).__name__}")
                    )
                    rest = deliveries[index + 1 :]  # in a fresh session: this one may be broken
                    break
                if message is None:
                    endings.append((delivery.id, DeliveryStatus.CANCELLED, "no longer relevant"))
                else:
                    ready.append(Ready(delivery, user.channel_user_id, message))
            await session.rollback()  # rendering only reads
            if endings or postponed:
                repository = DeliveryRepository(session)
                for delivery_id, ending, reason in endings:
                    await repository.finish(delivery_id, ending, reason)
                for delivery_id, until in postponed:
                    await repository.postpone(delivery_id, until)
                await session.commit()
                for _, ending, _ in endings:
                    if ending is not DeliveryStatus.CANCELLED:
                        self._observed(ending.value)
        return ready, rest

    async def _send_until_settled(
        self, delivery: ClaimedDelivery, chat_id: str, message: Message, deadline: datetime
    ) -> None:
        while True:
            if not await self._turn_to_send(deadline):
                await self._release([delivery])
                return
            try:
                await self.send(chat_id, message)
            except RateLimited as limited:
                self._pause(limited.retry_after)
                continue
            except RecipientGone as gone:
                logger.info("delivery %s: recipient gone (%s)", delivery.id, gone)
                await self._recipient_gone(delivery, str(gone))
            except Undeliverable as refused:
                logger.warning("delivery %s: refused (%s)", delivery.id, refused)
                await self._fail(delivery, str(refused))
            except Exception as error:
                if not isinstance(error, TemporaryFailure):
                    logger.exception("delivery %s: unexpected send error", delivery.id)
                await self._retry_or_fail(delivery, error)
            else:
                await self._outcomes.sent(delivery.id, self.clock())
                self._observed("sent")
            return

    async def _turn_to_send(self, deadline: datetime) -> bool:
        """Wait out a pause and the rate limit; False when stopping or the lease is nearly over."""
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set() and self.clock() < deadline:
            if (pause := self._resume_at - loop.time()) > 0:
                with suppress(TimeoutError):
                    async with asyncio.timeout(pause):
                        await self._stopping.wait()
                continue
            if self._limiter is not None:
                async with self._limiter_line:
                    if not self._tickets:
                        await self._limiter.acquire(self._block)
                        self._tickets = self._block
                    self._tickets -= 1
            if self._resume_at <= loop.time():  # no 429 arrived while we waited for the limiter
                return True
        return False

    def _pause(self, seconds: float) -> None:
        resume_at = asyncio.get_running_loop().time() + seconds
        if resume_at > self._resume_at:
            logger.warning("rate limited: all deliveries pause for %.1fs", seconds)
            self._resume_at = resume_at

    async def _retry_or_fail(self, delivery: ClaimedDelivery, error: Exception) -> None:
        attempts = delivery.attempts + 1
        reason = str(error) if isinstance(error, DeliveryError) else type(error).__name__
        if attempts >= self.policy.max_attempts:
            logger.warning(
                "delivery %s: failed after %d attempts (%s)", delivery.id, attempts, reason
            )
            await self._fail(delivery, reason)
            return
        retry_at = self.clock() + self.policy.retry_backoff * 2 ** (attempts - 1)
        logger.info("delivery %s: attempt %d failed (%s), retrying", delivery.id, attempts, reason)
        await self._outcomes.change(
            lambda session: DeliveryRepository(session).retry_later(delivery.id, retry_at, reason)
        )

    async def _fail(self, delivery: ClaimedDelivery, reason: str) -> None:
        await self._outcomes.change(
            lambda session: DeliveryRepository(session).finish(
                delivery.id, DeliveryStatus.FAILED, reason, attempted=True
            )
        )
        self._observed("failed")

    async def _recipient_gone(self, delivery: ClaimedDelivery, reason: str) -> None:
        async def stop_and_finish(session: AsyncSession) -> None:
            user = await session.get(User, delivery.user_id)
            if user is not None:
                await UserRepository(session).mark_stopped(user)
            await DeliveryRepository(session).finish(
                delivery.id, DeliveryStatus.BLOCKED, reason, attempted=True
            )

        await self._outcomes.change(stop_and_finish)
        self._observed("blocked")

    async def _release(self, deliveries: Sequence[ClaimedDelivery]) -> None:
        await self._write(lambda repository: repository.release(deliveries))

    async def _write(self, change: Callable[[DeliveryRepository], Awaitable[None]]) -> None:
        """One change in its own short session, committed at once."""
        async with self.sessionmaker() as session:
            await change(DeliveryRepository(session))
            await session.commit()


@dataclass(frozen=True)
class Ready:
    """A leased delivery, rendered: where it goes and what it says."""

    delivery: ClaimedDelivery
    chat_id: str
    message: Message


Change = Callable[[AsyncSession], Awaitable[object]]


@dataclass
class _Outcome:
    sent: int | None  # a delivery id to mark sent at `at`, or None for a `change`
    at: datetime | None
    change: Change | None
    done: asyncio.Future[None]


class GroupCommit:
    """Writes send outcomes durably, batching those that arrive while a commit is under way.

    Callers take turns to write (a FIFO lock). Whoever's turn it is and finds their own outcome
    not yet written waits `gather` seconds for company, then commits everything pending in one
    transaction; the others whose outcomes that included just return. Each caller returns once its
    own outcome is committed (or raises if it could not be). One bad outcome spoils no other: a
    failed group is written again one outcome at a time.
    """

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], gather: float = 0.0) -> None:
        self.sessionmaker = sessionmaker
        self.gather = gather
        self._pending: list[_Outcome] = []
        self._turn = asyncio.Lock()

    async def sent(self, delivery_id: int, now: datetime) -> None:
        """Record that the channel accepted the delivery."""
        await self._record(_Outcome(delivery_id, now, None, _future()))

    async def change(self, change: Change) -> None:
        """Apply `change(session)` in the next commit."""
        await self._record(_Outcome(None, None, change, _future()))

    async def _record(self, outcome: _Outcome) -> None:
        self._pending.append(outcome)
        async with self._turn:
            if not outcome.done.done():
                if self.gather > 0:
                    await asyncio.sleep(self.gather)
                group, self._pending = self._pending, []
                await self._write_group(group)
        await outcome.done

    async def _write_group(self, group: list[_Outcome]) -> None:
        try:
            try:
                await self._write(group)
            except Exception:
                for outcome in group:
                    await self._write_alone(outcome)
            else:
                for outcome in group:
                    _settle(outcome.done)
        except BaseException:  # cancelled mid-way: nobody else will write these
            for outcome in group:
                outcome.done.cancel()
            raise

    async def _write(self, group: list[_Outcome]) -> None:
        async with self.sessionmaker() as session:
            sent = [outcome for outcome in group if outcome.sent is not None]
            if sent:
                ids = [outcome.sent for outcome in sent if outcome.sent is not None]
                at = max(outcome.at for outcome in sent if outcome.at is not None)
                await DeliveryRepository(session).mark_sent_many(ids, at)
            for outcome in group:
                if outcome.change is not None:
                    await outcome.change(session)
            await session.commit()

    async def _write_alone(self, outcome: _Outcome) -> None:
        try:
            await self._write([outcome])
        except Exception as error:
            if not outcome.done.done():
                outcome.done.set_exception(error)
        else:
            _settle(outcome.done)


def _future() -> asyncio.Future[None]:
    return asyncio.get_running_loop().create_future()


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@contextmanager
def suppress_and_log(what: str) -> Iterator[None]:
    """Log an exception with its traceback and carry on: the worker must never die of one."""
    try:
        yield
    except Exception:
        logger.exception(what)
