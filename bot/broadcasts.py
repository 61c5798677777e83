"""The broadcast service: starts broadcasts when due, queues their recipients, reports progress.

It runs next to the delivery worker (which does the sending) and is durable the same way: all it
knows lives in the `broadcasts` and `deliveries` tables, so after a crash or a restart it simply
carries on. Each pass:

1. scheduled broadcasts whose time has come start sending;
2. a sending broadcast's recipients are queued in batches, each batch in one transaction that
   also moves the broadcast's cursor (resumable; dedupe keys make any repeat harmless);
3. each live broadcast's progress message (one per broadcast, in its author's language) is
   edited at most every `report_every` seconds; once nothing is left it becomes the final report.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery import Clock, DeliveryError, Send, suppress_and_log
from bot.i18n import Catalog
from bot.turn import Message
from handlers.broadcast_status import status_message
from storage.broadcasts import FANOUT_BATCH, BroadcastRepository, BroadcastView
from storage.models import BroadcastStatus, User, utcnow

logger = logging.getLogger(__name__)

Edit = Callable[[str, str, Message], Awaitable[None]]  # (chat id, message id, new message)
ENDED = (BroadcastStatus.DONE, BroadcastStatus.CANCELLED)


class BroadcastService:
    """Starts, fans out and reports on broadcasts; start() it, stop() it, or run_once() in tests."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        catalog: Catalog,
        send: Send,
        edit: Edit,
        *,
        zone: ZoneInfo,
        wake_sender: Callable[[], None] = lambda: None,
        clock: Clock = utcnow,
        interval: float = 1.0,
        report_every: float = 3.0,
        fanout_batch: int = FANOUT_BATCH,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.catalog = catalog
        self.send = send
        self.edit = edit
        self.zone = zone
        self.wake_sender = wake_sender
        self.clock = clock
        self.interval = interval
        self.report_every = report_every
        self.fanout_batch = fanout_batch
        self._last_report: dict[int, tuple[datetime, str]] = {}  # id -> (when, text shown)
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run in the background until stop()."""
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name="broadcast-service")

    async def stop(self) -> None:
        """Finish the current pass and return."""
        self._stopping.set()
        if self._task is not None:
            task, self._task = self._task, None
            await task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with suppress_and_log("broadcast service pass failed"):
                await self.run_once()
            with suppress(TimeoutError):
                async with asyncio.timeout(self.interval):
                    await self._stopping.wait()

    async def run_once(self, *, report_now: bool = False) -> None:
        """One pass: start what is due, queue recipients, update or finish progress reports."""
        async with self.sessionmaker() as session:
            started = await self._repository(session).start_due(self.clock())
            await session.commit()
        if started:
            logger.info("scheduled broadcasts %s started", started)
        async with self.sessionmaker() as session:
            live = await self._repository(session).to_report()
        for broadcast_id in live:
            if self._stopping.is_set():
                return
            with suppress_and_log(f"broadcast {broadcast_id}: pass failed"):
                await self._fan_out(broadcast_id)
                await self._report(broadcast_id, force=report_now)

    def _repository(self, session: AsyncSession) -> BroadcastRepository:
        return BroadcastRepository(session, self.catalog.default_locale)

    async def _fan_out(self, broadcast_id: int) -> None:
        """Queue every remaining recipient, a batch per transaction."""
        while not self._stopping.is_set():
            async with self.sessionmaker() as session:
                done = await self._repository(session).fan_out(broadcast_id, self.fanout_batch)
                await session.commit()
            if done is None:
                return
            self.wake_sender()
            if done:
                return

    async def _report(self, broadcast_id: int, *, force: bool) -> None:
        """Edit the progress message when due; complete and finally report a finished one."""
        now = self.clock()  # the service's clock, so that tests can move it
        shown_at, shown = self._last_report.get(broadcast_id, (None, ""))
        async with self.sessionmaker() as session:
            repository = self._repository(session)
            view = await repository.view(broadcast_id)
            if view is None:
                return
            ended = view.status in ENDED
            since = (now - shown_at).total_seconds() if shown_at else float("inf")
            due = since >= self.report_every or since < 0  # < 0: the system clock went back
            if not (ended or force or due):
                return
            view = await repository.view(broadcast_id, with_counts=True)
            assert view is not None
            if (
                view.status is BroadcastStatus.SENDING
                and view.fanout_done
                and not view.counts.queued
            ):
                await repository.complete(broadcast_id)
                await session.commit()
                view = await repository.view(broadcast_id, with_counts=True)
                assert view is not None
                ended = True
                logger.info("broadcast %s done: %s", broadcast_id, view.counts)
            author = await session.get(User, view.author_id) if view.author_id else None
            address = (author.channel_user_id, author.locale) if author else None
        if address is not None:
            chat_id, locale = address
            message = status_message(
                self.catalog.translator(locale), view, self.clock(), self.zone, edit=True
            )
            if ended or message.text != shown:
                await self._show(view, chat_id, message)
                self._last_report[broadcast_id] = (now, message.text)
        if ended:
            async with self.sessionmaker() as session:
                await self._repository(session).reported(broadcast_id, self.clock())
                await session.commit()
            self._last_report.pop(broadcast_id, None)

    async def _show(self, view: BroadcastView, chat_id: str, message: Message) -> None:
        """Edit the broadcast's progress message, or post it (once) if there is none yet."""
        try:
            if view.progress_message_id is not None and view.progress_chat_id is not None:
                await self.edit(view.progress_chat_id, view.progress_message_id, message)
                return
            if view.status is BroadcastStatus.CANCELLED and view.started_at is None:
                return  # cancelled before it started: the admin who cancelled it was told
            message_id = await self.send(chat_id, message)
        except DeliveryError as error:
            logger.info("broadcast %s: progress message not updated (%s)", view.id, error)
            return
        async with self.sessionmaker() as session:
            await self._repository(session).set_progress_message(view.id, chat_id, str(message_id))
            await session.commit()
