"""Users repository: takes the turn's session, never commits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import String, bindparam, cast, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import User, UserStatus, utcnow

LAST_SEEN_PRECISION = timedelta(hours=1)  # coarse on purpose: enough for retention, fewer writes
# Every update looks its sender up: one statement built once, not one built per update.
BY_CHANNEL_IDENTITY = select(User).where(
    User.channel == bindparam("channel"), User.channel_user_id == bindparam("channel_user_id")
)


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes; every datetime we store is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class UserRepository:
    """Reads and writes `users` rows inside the caller's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def find(self, channel: str, channel_user_id: str) -> User | None:
        """The user with this channel identity, or None if they never chose a language."""
        identity = {"channel": channel, "channel_user_id": channel_user_id}
        return await self.session.scalar(BY_CHANNEL_IDENTITY, identity)

    async def create(self, channel: str, channel_user_id: str, locale: str) -> User:
        """Store a new user who has just picked a language (the only thing kept before consent)."""
        user = User(channel=channel, channel_user_id=channel_user_id, locale=locale, roles=[])
        self.session.add(user)
        await self.session.flush()
        return user

    async def seen(self, user: User) -> None:
        """Record that the user wrote (to the hour) and reactivate a stopped contact."""
        now = utcnow()
        if now - _aware(user.last_seen_at) >= LAST_SEEN_PRECISION:
            user.last_seen_at = now
        if user.status is UserStatus.STOPPED:
            user.status = UserStatus.ACTIVE

    async def set_locale(self, user: User, locale: str) -> None:
        """Save the user's language choice."""
        user.locale = locale

    async def give_consent(self, user: User) -> None:
        """Record when the user accepted the privacy notice."""
        user.consented_at = utcnow()

    async def with_role(self, *roles: str) -> list[int]:
        """Active people holding any of these roles."""
        has_role = [cast(User.roles, String).like(f'%"{role}"%') for role in roles]
        ids = await self.session.scalars(
            select(User.id).where(User.status == UserStatus.ACTIVE, or_(*has_role))
        )
        return list(ids)

    async def grant_role(self, user: User, role: str) -> None:
        """Add a role (admin, moderator, coordinator, helper) if the user lacks it."""
        if role not in user.roles:
            user.roles = [*user.roles, role]

    async def forget(self, user: User) -> None:
        """Delete everything stored about the user."""
        await self.session.execute(delete(User).where(User.id == user.id))

    async def set_muted(self, user: User, muted: bool) -> None:
        """Turn staff announcements (broadcasts) off or back on for the user."""
        user.muted = muted

    async def purge_inactive(self, cutoff: datetime) -> int:
        """Delete everyone last seen before `cutoff` (their rows in other tables go with them)."""
        result = await self.session.execute(delete(User).where(User.last_seen_at < cutoff))
        return result.rowcount or 0

    async def mark_stopped(self, user: User) -> None:
        """The user blocked the bot: stop writing to them until they come back."""
        user.status = UserStatus.STOPPED
