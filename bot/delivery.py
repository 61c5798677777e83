"""The delivery worker: drains the `deliveries` queue at the channel's pace, durably.

Everything the bot sends that is not a reply to an update goes through here: notifications,
reminders and broadcasts. The worker leases small batches of due rows, renders each message at
send time in the recipient's language, sends it through a channel-neutral `send` callable, and
records the outcome at once, each step in its own short session (never one held across a send).

What a send may raise, and what the worker does:

- `RateLimited`: pause *all* sending for `retry_after`, then send the same message again.
- `RecipientGone`: the user blocked us or deleted their account: stop them, mark it blocked.
- `TemporaryFailure` (and anything unexpected): try again later with a growing backoff; after
  `max_attempts` the delivery has failed. Other messages go on meanwhile.
- `Undeliverable`: the channel refused this message for good: it has failed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiolimiter import AsyncLimiter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import Catalog
from bot.turn import Message
from handlers.notifications import render
from storage.deliveries import ClaimedDelivery, DeliveryRepository
from storage.models import Delivery, DeliveryStatus, User, UserStatus, utcnow
from storage.users import UserRepository

logger = logging.getLogger(__name__)

Send = Callable[[str, Message], Awaitable[None]]  # (channel user id, message); raises below
Clock = Callable[[], datetime]
Housekeeping = Callable[[AsyncSession], Awaitable[object]]


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
    batch_size: int = 50  # due rows leased per claim
    max_in_flight: int = 16  # sends awaiting an answer at once: at most these repeat after a crash
    max_attempts: int = 5  # sends that fail temporarily before the delivery has failed
    retry_backoff: timedelta = timedelta(seconds=10)  # doubles after every failed attempt
    lease: timedelta = timedelta(minutes=2)  # a crashed worker's batch is claimable after this
    lease_margin: timedelta = timedelta(seconds=30)  # no send starts this close to the lease end
    idle_interval: float = 1.0  # seconds between looks at an empty queue
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
    ) -> None:
        self.sessionmaker = sessionmaker
        self.catalog = catalog
        self.send = send
        self.channel = channel
        self.policy = policy or DeliveryPolicy()
        self.clock = clock
        rate = self.policy.rate
        self._limiter = AsyncLimiter(1, 1 / rate) if rate > 0 else None  # no bursts
        self._slots = asyncio.Semaphore(self.policy.max_in_flight)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._resume_at = 0.0  # event-loop time before which nothing is sent (429)
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._housekeeping: list[Housekeeping] = []
        self._next_housekeeping = 0.0

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
        """One task per delivery, at most max_in_flight at once; the rest go back on stop."""
        deadline = batch[0].lease - self.policy.lease_margin
        for index, delivery in enumerate(batch):
            await self._slots.acquire()
            if self._stopping.is_set() or self.clock() >= deadline:
                self._slots.release()
                await self._release(batch[index:])
                return
            task = group.create_task(self._deliver(delivery, deadline))
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

    # --- one delivery -------------------------------------------------------------------

    async def _deliver(self, delivery: ClaimedDelivery, deadline: datetime) -> None:
        try:
            # If the database fails us, the lease runs out and the delivery is tried again.
            with suppress_and_log(f"delivery {delivery.id}: database error"):
                prepared = await self._prepare(delivery)
                if prepared is not None:
                    await self._send_until_settled(delivery, *prepared, deadline)
        finally:
            self._slots.release()

    async def _prepare(self, delivery: ClaimedDelivery) -> tuple[str, Message] | None:
        """The recipient's address and the message in their language, or None if none is due."""
        async with self.sessionmaker() as session:
            row = (
                await session.execute(
                    select(Delivery.status, User)
                    .join(User, User.id == Delivery.user_id)
                    .where(Delivery.id == delivery.id)
                )
            ).first()
            if row is None or row[0] is not DeliveryStatus.QUEUED:
                return None  # cancelled, or the user asked to be forgotten, since the claim
            user: User = row[1]
            chat_id = user.channel_user_id
            deliveries = DeliveryRepository(session)
            if user.status is not UserStatus.ACTIVE:
                await deliveries.finish(delivery.id, DeliveryStatus.BLOCKED, f"user {user.status}")
                await session.commit()
                return None
            try:
                message = await render(
                    delivery.kind,
                    session,
                    self.catalog.translator(user.locale),
                    user,
                    delivery.payload,
                    default_locale=self.catalog.default_locale,
                )
            except Exception as error:
                logger.exception("delivery %s: cannot render kind %r", delivery.id, delivery.kind)
                await session.rollback()
                error_name = f"render: {type(error).__name__}"
                await deliveries.finish(delivery.id, DeliveryStatus.FAILED, error_name)
                await session.commit()
                return None
            await session.rollback()  # rendering only reads (and this expires `user`)
            if message is None:
                await deliveries.finish(delivery.id, DeliveryStatus.CANCELLED, "no longer relevant")
                await session.commit()
                return None
            return chat_id, message

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
                await self._write(
                    lambda deliveries: deliveries.mark_sent(delivery.id, self.clock())
                )
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
                await self._limiter.acquire()
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
        await self._write(lambda deliveries: deliveries.retry_later(delivery.id, retry_at, reason))

    async def _fail(self, delivery: ClaimedDelivery, reason: str) -> None:
        await self._write(
            lambda deliveries: deliveries.finish(
                delivery.id, DeliveryStatus.FAILED, reason, attempted=True
            )
        )

    async def _recipient_gone(self, delivery: ClaimedDelivery, reason: str) -> None:
        async with self.sessionmaker() as session:
            user = await session.get(User, delivery.user_id)
            if user is not None:
                await UserRepository(session).mark_stopped(user)
            await DeliveryRepository(session).finish(
                delivery.id, DeliveryStatus.BLOCKED, reason, attempted=True
            )
            await session.commit()

    async def _release(self, deliveries: Sequence[ClaimedDelivery]) -> None:
        await self._write(lambda repository: repository.release(deliveries))

    async def _write(self, change: Callable[[DeliveryRepository], Awaitable[None]]) -> None:
        """One change in its own short session, committed at once."""
        async with self.sessionmaker() as session:
            await change(DeliveryRepository(session))
            await session.commit()


@contextmanager
def suppress_and_log(what: str) -> Iterator[None]:
    """Log an exception with its traceback and carry on: the worker must never die of one."""
    try:
        yield
    except Exception:
        logger.exception(what)
