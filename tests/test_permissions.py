"""Every privileged command and button from a plain user: refused, the database unchanged."""

from __future__ import annotations

from sqlalchemy import select

from bot.conversation import Conversation
from storage.models import Base, User
from storage.submissions import SubmissionRepository
from tests.support.chat import Person, messages
from tests.support.opportunities import seed_city

PRIVILEGED_COMMANDS = ("post", "mine", "questions", "grant", "staff", "broadcast", "moderate")
PRIVILEGED_BUTTONS = (
    "post:publish", "post:cat:food", "post:cancel", "post:edit:title", "org:mine", "org:new",
    "org:show:{opp}", "org:edit:{opp}", "org:close:{opp}", "org:people:{opp}",
    "hq:take:1", "hq:promote:1", "hq:next",
    "roles:new:helper", "roles:new:coordinator", "roles:revoke:{admin}:helper",
    "bc:send", "bc:first:en", "bc:aud:everyone", "bc:pause:1", "bc:resume:1", "bc:cancel:1",
    "bc:kill:1", "bc:show:1", "bc:when:now", "bc:quit",
    "mod:queue", "mod:next:{sub}", "mod:back:{sub}", "mod:approve:{sub}", "mod:cat:{sub}:food",
    "mod:edit:{sub}", "mod:field:{sub}:title", "mod:reject:{sub}", "mod:why:{sub}:duplicate",
)  # fmt: skip


async def everything(conversation: Conversation) -> dict[str, list[tuple]]:
    """Every row of every table (last-seen times aside, which any message may touch)."""
    async with conversation.sessionmaker() as session:
        dump = {}
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(select(table))).mappings()
            dump[table.name] = sorted(
                tuple((k, repr(v)) for k, v in row.items() if k != "last_seen_at") for row in rows
            )
        return dump


async def test_a_plain_user_is_refused_every_privileged_action(conversation):
    city = await seed_city(conversation)
    admin = Person(conversation, user_id="4242")  # ADMIN_IDS
    await admin.onboard("en")
    plain = Person(conversation, user_id="6401")
    await plain.onboard("en")
    async with conversation.sessionmaker() as session:
        admin_id = await session.scalar(select(User.id).where(User.channel_user_id == "4242"))
        assert admin_id is not None
        fields = {"title": "Soup", "what": "Cook", "place": "Here", "timing": "Now", "contact": "@"}
        submission_id = await SubmissionRepository(session).create(admin_id, "en", fields)
        await session.commit()
    before = await everything(conversation)

    for name in PRIVILEGED_COMMANDS:
        text = " ".join(message.text for message in messages(await plain.command(name)))
        assert "🔒" in text or "expired" in text, name
    for data in PRIVILEGED_BUTTONS:
        data = data.format(opp=city.opportunities["homework"], admin=admin_id, sub=submission_id)
        text = " ".join(message.text for message in messages(await plain.press(data)))
        assert "🔒" in text or "expired" in text, data

    assert await everything(conversation) == before
