"""A small community for broadcast tests: people in the playground and the database, an admin
who composes through the conversation core, and the worker and service that deliver."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.broadcasts import BroadcastService
from bot.channels.telegram import TelegramSender
from bot.conversation import Conversation
from bot.delivery import DeliveryPolicy, DeliveryWorker
from bot.turn import Photo, Reply
from storage.audit import AuditLog, AuditRecord
from storage.broadcasts import BroadcastRepository, BroadcastView
from storage.deliveries import DeliveryCounts
from storage.models import Broadcast, Delivery, Flow, Follow, User, UserArea, UserStatus, utcnow
from storage.opportunities import OpportunityRepository
from storage.users import UserRepository
from tests.support.chat import Person
from tests.support.servers import RunningPlayground

FAST = DeliveryPolicy(rate=0, batch_size=20, max_in_flight=4, retry_backoff=timedelta(0))


@dataclass
class Member:
    """One person: their chat in the playground and their row in the users table."""

    chat_id: int
    user_id: int
    locale: str


@dataclass
class Community:
    """The database, the playground, a sender to it, and an admin."""

    conversation: Conversation
    served: RunningPlayground
    sender: TelegramSender
    members: list[Member] = field(default_factory=list)

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        """Sessions on the test database."""
        return self.conversation.sessionmaker

    def worker(self, policy: DeliveryPolicy = FAST, **options: Any) -> DeliveryWorker:
        """A delivery worker sending to the playground."""
        options.setdefault("send", self.sender.send)
        return DeliveryWorker(
            self.sessionmaker, self.conversation.catalog, policy=policy, **options
        )

    def service(self, **options: Any) -> BroadcastService:
        """A broadcast service reporting to the playground."""
        return BroadcastService(
            self.sessionmaker,
            self.conversation.catalog,
            self.sender.send,
            self.sender.edit,
            zone=self.conversation.settings.zone,
            **options,
        )

    async def member(
        self,
        locale: str,
        *,
        consented: bool = True,
        muted: bool = False,
        stopped: bool = False,
        areas: Iterable[int] = (),
        follows: Iterable[str] = (),
        seen_days_ago: int = 0,
    ) -> Member:
        """A new person who chose `locale` (and consented, unless told otherwise)."""
        profile = self.served.playground.add_user(f"Member {len(self.members)}", locale)
        async with self.sessionmaker() as session:
            users = UserRepository(session)
            user = await users.create("telegram", str(profile["id"]), locale)
            if consented:
                await users.give_consent(user)
            if stopped:
                await users.mark_stopped(user)
            user.muted = muted
            user.last_seen_at = utcnow() - timedelta(days=seen_days_ago)
            session.add_all(UserArea(user_id=user.id, area_id=area) for area in areas)
            session.add_all(Follow(user_id=user.id, category=code) for code in follows)
            await session.commit()
        member = Member(profile["id"], user.id, locale)
        self.members.append(member)
        return member

    async def admin(self, locale: str = "en") -> Person:
        """An onboarded admin who is also a playground user (so progress reports reach them)."""
        profile = self.served.playground.add_user("Sara (staff)", locale)
        person = Person(self.conversation, user_id=str(profile["id"]), language_code=locale)
        await person.onboard(locale)
        async with self.sessionmaker() as session:
            users = UserRepository(session)
            user = await users.find("telegram", person.user_id)
            assert user is not None
            await users.grant_role(user, "admin")
            await session.commit()
        return person

    async def sign_up(
        self, member: Member, opportunity_id: int, *, withdrawn: bool = False
    ) -> None:
        """The member signs up to an opportunity (and maybe withdraws again)."""
        async with self.sessionmaker() as session:
            opportunities = OpportunityRepository(session)
            signup = await opportunities.sign_up(opportunity_id, member.user_id, "M", "@m")
            if withdrawn:
                await opportunities.withdraw(signup)
            await session.commit()

    def received(self, member: Member) -> list[str]:
        """What the bot sent the member: texts, and captions shown as '[photo] caption'."""
        return [
            f"[photo] {message.get('caption', '')}".strip()
            if "photo" in message
            else message["text"]
            for message in self.served.playground.transcript(member.chat_id)
        ]

    def chat(self, person: Person) -> list[dict[str, Any]]:
        """A person's chat in the playground (progress reports land here)."""
        return self.served.playground.transcript(int(person.user_id))

    def reports(self, person: Person) -> list[dict[str, Any]]:
        """The progress messages (edits applied) in a person's chat."""
        return [m for m in self.chat(person) if "Broadcast #" in m.get("text", "")]

    async def view(self, broadcast_id: int) -> BroadcastView:
        """The broadcast with its deliveries' counts."""
        async with self.sessionmaker() as session:
            repository = BroadcastRepository(session, self.conversation.settings.default_locale)
            view = await repository.view(broadcast_id, with_counts=True)
            assert view is not None
            return view

    async def counts(self, broadcast_id: int) -> DeliveryCounts:
        """The broadcast's deliveries per state."""
        return (await self.view(broadcast_id)).counts

    async def newest_broadcast(self) -> int:
        """The id of the broadcast created last."""
        async with self.sessionmaker() as session:
            broadcast_id = await session.scalar(select(func.max(Broadcast.id)))
            assert broadcast_id is not None, "no broadcast was created"
            return broadcast_id

    async def audit(self) -> list[AuditRecord]:
        """The audit log, newest first."""
        async with self.sessionmaker() as session:
            return await AuditLog(session).entries()

    async def status(self, member: Member) -> UserStatus:
        """Whether we may still write to the member."""
        async with self.sessionmaker() as session:
            return (await session.get_one(User, member.user_id)).status

    async def snapshot(self) -> dict[str, int]:
        """Row counts of what a broadcast would change."""
        async with self.sessionmaker() as session:
            return {
                model.__tablename__: await session.scalar(select(func.count()).select_from(model))
                or 0
                for model in (Broadcast, Delivery, Flow)
            } | {"audit_log": len(await AuditLog(session).entries())}

    async def deliver(self, worker: DeliveryWorker, service: BroadcastService) -> None:
        """Run the service and the worker until nothing is left to do, then the final reports."""
        for _ in range(5):
            await service.run_once(report_now=True)
            await worker.run_until_idle()
        await service.run_once(report_now=True)


async def compose(
    admin: Person, texts: dict[str, str], *audience: str, photo: tuple[str, str] | None = None
) -> list[Reply]:
    """Write the versions (the first in its own language), then choose the audience by pressing
    `audience` (callback data, e.g. "bc:aud:all"); returns the replies to the last press."""
    await admin.command("broadcast")
    (first_locale, first_text), *others = texts.items()
    if first_locale != admin.language_code:
        await admin.press("bc:first")
        await admin.press(f"bc:lang:{first_locale}")
    if photo is not None:
        await admin.say(Photo(photo[0], photo[1]))
    if photo is None or not photo[1]:
        await admin.text(first_text)
    for locale, text in others:
        await admin.press("bc:add")
        await admin.press(f"bc:lang:{locale}")
        await admin.text(text)
    replies = await admin.press("bc:next")
    for data in audience:
        replies = await admin.press(data)
    return replies


def local_time(moment: datetime) -> str:
    """How an admin types a date and time: 24/01/2027 15:30."""
    return f"{moment:%d/%m/%Y %H:%M}"


@dataclass
class ManualClock:
    """Time that moves only when the test says so."""

    now: datetime = field(default_factory=utcnow)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        """Move time forward."""
        self.now += delta


async def eventually(probe: Callable[[], Awaitable[bool]], attempts: int = 400) -> None:
    """Wait (bounded) until an asynchronous effect becomes visible."""
    for _ in range(attempts):
        if await probe():
            return
        await asyncio.sleep(0.025)
    raise AssertionError("it never happened")
