"""Pseudonymous codes that tell people apart for staff, keyed with this database's own secret.

A code is an HMAC of the account's channel identity, so nobody can work out whose it is from an
account id they know, as they could from a plain hash.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import InstallationSecret, User

KEY_NAME = "pseudonyms"


class Pseudonyms:
    """Makes the codes; load() it from the database once per turn that shows any."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    async def load(cls, session: AsyncSession) -> Pseudonyms:
        """The codes of this database, with the key its migration made (read once per session)."""
        secret = await session.get_one(InstallationSecret, KEY_NAME)
        return cls(secret.value.encode())

    def of(self, user: User) -> str:
        """The code of a user."""
        return self.of_account(user.channel, user.channel_user_id)

    def of_account(self, channel: str, channel_user_id: str) -> str:
        """The code of an account on a channel: '#' and six hex digits."""
        identity = f"{channel}:{channel_user_id}".encode()
        return "#" + hmac.new(self._key, identity, hashlib.sha256).hexdigest()[:6]
