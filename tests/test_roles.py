"""Roles: admins invite with one-time links and take roles back; every change is audited."""

from __future__ import annotations

import re

from sqlalchemy import select

from storage.models import AuditEntry, User
from tests.conftest import ADMIN_ID
from tests.support.chat import Person, texts, toasts
from tests.support.opportunities import seed_city


async def row(conversation, user_id: str) -> User:
    async with conversation.sessionmaker() as session:
        user = await session.scalar(select(User).where(User.channel_user_id == user_id))
        assert user is not None
        return user


async def invite_link(admin: Person, *presses: str) -> str:
    await admin.command("grant")
    for data in presses:
        replies = await admin.press(data)
    match = re.search(r"start=(r[A-Za-z0-9_-]+)", texts(replies))
    assert match, texts(replies)
    return match[1]


async def test_an_admin_invites_a_coordinator_who_can_then_post(conversation):
    city = await seed_city(conversation)
    admin = Person(conversation, user_id=str(ADMIN_ID))
    await admin.onboard("en")
    payload = await invite_link(
        admin, "roles:new:coordinator", f"roles:new:coordinator:{city.organisations['ponte']}"
    )
    luca = Person(conversation, user_id="6301", language_code="it")
    await luca.onboard("it")

    welcome = await luca.command("start", payload)
    again = Person(conversation, user_id="6302")
    await again.onboard("en")
    reused = await again.command("start", payload)

    assert "🎉" in texts(welcome)
    user = await row(conversation, "6301")
    assert user.roles == ["coordinator"] and user.organisation_id == city.organisations["ponte"]
    assert "expired or was already used" in texts(reused)
    assert (await row(conversation, "6302")).roles == []
    assert "title" in texts(await luca.command("post")) or "titolo" in texts(
        await luca.command("post")
    )
    async with conversation.sessionmaker() as session:
        actions = [
            entry.action
            for entry in await session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]
    assert actions == ["role.invite", "role.grant"]


async def test_an_admin_takes_a_role_back_and_it_is_audited(conversation):
    admin = Person(conversation, user_id=str(ADMIN_ID))
    await admin.onboard("en")
    payload = await invite_link(admin, "roles:new:helper")
    helper = Person(conversation, user_id="6303")
    await helper.onboard("en")
    await helper.command("start", payload)
    helper_row = await row(conversation, "6303")

    staff = await admin.command("staff")
    assert "6303" not in texts(staff), "staff are shown by pseudonym, never by account"
    revoked = await admin.press(f"roles:revoke:{helper_row.id}:helper")

    assert toasts(revoked) == ["Done."]
    assert (await row(conversation, "6303")).roles == []
    assert "Only volunteer helpers" in texts(await helper.command("questions"))
    async with conversation.sessionmaker() as session:
        revokes = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "role.revoke"))
        )
    assert len(revokes) == 1 and revokes[0].details["role"] == "helper"


async def test_plain_users_cannot_grant_or_revoke(conversation):
    person = Person(conversation, user_id="6304")
    await person.onboard("en")
    target = Person(conversation, user_id="6305")
    await target.onboard("en")
    target_row = await row(conversation, "6305")

    for replies in (
        await person.command("grant"),
        await person.command("staff"),
        await person.press("roles:new:helper"),
        await person.press(f"roles:revoke:{target_row.id}:helper"),
    ):
        assert "Only admins" in texts(replies)
    async with conversation.sessionmaker() as session:
        assert list(await session.scalars(select(AuditEntry))) == []
