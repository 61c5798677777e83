"""One event in, replies out: one DB session per update, committed once, rolled back on error."""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clean import MAX_TEXT_LENGTH, clean
from bot.flood import FloodGuard, Verdict
from bot.i18n import Catalog
from bot.metrics import Metrics
from bot.settings import Settings
from bot.turn import Command, Event, InlineQuery, Membership, Message, Reply, Text, Turn
from handlers import fallback, respond
from storage.users import UserRepository

logger = logging.getLogger(__name__)


def cleaned(event: Event) -> Event:
    """The event with its typed text cleaned (see bot.clean)."""
    match event.input:
        case Text(text=text):
            return replace(event, input=Text(clean(text)))
        case Command(name=name, args=args):
            return replace(event, input=Command(name, clean(args)))
        case InlineQuery(query=query):
            return replace(event, input=InlineQuery(clean(query)))
    return event


def is_too_long(event: Event) -> bool:
    """Typed text longer than anything the bot accepts."""
    match event.input:
        case Text(text=text) | Command(args=text):
            return len(text) > MAX_TEXT_LENGTH
    return False


async def too_long(turn: Turn) -> list[Reply]:
    """Say how long a message may be; nothing else happens."""
    return [fallback.too_long(turn.t, MAX_TEXT_LENGTH)]


class Conversation:
    """The channel-neutral core every channel adapter calls."""

    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        sessionmaker: async_sessionmaker[AsyncSession],
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.sessionmaker = sessionmaker
        self.metrics = metrics
        self.flood = FloodGuard(settings.flood_max_updates, settings.flood_period)

    async def handle(self, event: Event) -> list[Reply]:
        """Answer `event`. Never raises: a failure becomes a localized error reply and an alert."""
        if not isinstance(event.input, Membership):
            verdict = await self.flood.admit(f"{event.sender.channel}:{event.sender.user_id}")
            if verdict is Verdict.DROP:
                return []
            if verdict is Verdict.WARN:
                return [await self.slow_down(event)]
        translator = self.catalog.resolve(None, event.sender.language_code)
        event = cleaned(event)
        try:
            async with self.sessionmaker() as session:
                users = UserRepository(session)
                user = await users.find(event.sender.channel, event.sender.user_id)
                if user is not None:
                    translator = self.catalog.translator(user.locale)
                    await users.seen(user)
                    if self._is_configured_admin(event):
                        await users.grant_role(user, "admin")
                turn = Turn(
                    event, session, users, self.catalog, self.settings, translator, user,
                    metrics=self.metrics,
                )  # fmt: skip
                replies = await (too_long(turn) if is_too_long(event) else respond(turn))
                await session.commit()
                return replies
        except Exception:
            error_id = secrets.token_hex(4)
            logger.exception("error %s while handling %s", error_id, type(event.input).__name__)
            return [fallback.error_message(translator, error_id), *self.alerts(error_id)]

    async def slow_down(self, event: Event) -> Message:
        """The one notice a flooding person gets, in their language (read, never written)."""
        async with self.sessionmaker() as session:
            user = await UserRepository(session).find(event.sender.channel, event.sender.user_id)
        translator = self.catalog.resolve(user.locale if user else None, event.sender.language_code)
        return fallback.slow_down(translator)

    async def contact_stopped(self, channel: str, channel_user_id: str) -> None:
        """The channel refused delivery because the user blocked us: stop writing to them."""
        async with self.sessionmaker() as session:
            users = UserRepository(session)
            user = await users.find(channel, channel_user_id)
            if user is not None:
                await users.mark_stopped(user)
                await session.commit()

    def alerts(self, error_id: str) -> list[Reply]:
        """Tell every configured admin, in the default language, that something failed."""
        text = fallback.error_alert(self.catalog.translator(None), error_id)
        return [Message(text, to=str(admin_id)) for admin_id in sorted(self.settings.admin_ids)]

    def _is_configured_admin(self, event: Event) -> bool:
        sender = event.sender
        return sender.user_id.isdigit() and int(sender.user_id) in self.settings.admin_ids
