"""Property-based attack: 10,000 generated updates thrown at the real Application.

Random Unicode, random commands and payloads, random callback data, random update kinds, and
now and then another bot as the sender. The Application must never raise, every private message
from a person must get a reply, nothing from a bot may get one, and no privileged row may change.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select
from telegram import Update
from telegram.ext import Application, CallbackContext

from bot.playground.state import FIRST_USER_ID
from storage.db import create_engine, create_sessionmaker
from storage.models import FaqEntry, Opportunity, Organisation, User
from tests.support.opportunities import seed_city
from tests.support.servers import RunningPlayground, run_bot

BATCHES = 200
PER_BATCH = 50  # 200 × 50 = 10,000 updates
COMMANDS = (
    "start", "menu", "help", "language", "privacy", "forget", "find", "ask", "volunteer",
    "services", "post", "mine", "questions", "broadcast", "stop", "mydata", "grant", "x",
)  # fmt: skip
ACTIONS = ("lang", "consent", "menu", "vol", "prefs", "post", "org", "svc", "faq", "ask", "hq",
           "bc", "forget", "privacy", "nope")  # fmt: skip
ATTACHMENTS = ("sticker", "voice", "photo", "location", "document", "contact", "dice")
PAYLOADS = st.one_of(
    st.text(max_size=80),
    st.from_regex(r"o[0-9]{1,12}(_[A-Za-z0-9]{0,20})?", fullmatch=True),
    st.sampled_from(["o1", "o999999999999", "s1", "../../etc/passwd", "o1" * 40]),
)
UNICODE = st.text(
    alphabet=st.characters(codec=None, exclude_categories=()),  # surrogates and controls too
    max_size=300,
)

update_ids = itertools.count(1)
message_ids = itertools.count(1)


def person(user_id: int) -> dict:
    return {"id": user_id, "is_bot": False, "first_name": "Fuzz", "language_code": "ar"}


OTHER_BOT = {"id": 5_550_001, "is_bot": True, "first_name": "Relay", "username": "relay_bot"}


def private_chat(user_id: int) -> dict:
    return {"id": user_id, "type": "private", "first_name": "Fuzz"}


def message(sender: dict, chat: dict, **content: object) -> dict:
    return {"message_id": next(message_ids), "date": 1_760_000_000, "chat": chat,
            "from": sender, **content}  # fmt: skip


@st.composite
def updates(draw: st.DrawFn, user_ids: list[int]) -> tuple[dict, int | None, int | None]:
    """One update as Telegram would send it, the private chat that must get a reply, and the
    private chat that must get none (the sender was a bot)."""
    user_id = draw(st.sampled_from(user_ids))
    from_bot = draw(st.sampled_from([False] * 9 + [True]))
    sender = OTHER_BOT if from_bot else person(user_id)
    # A new group each time: one group's 20 messages a minute would pace the attack, not test it.
    group = {"id": draw(st.integers(-(10**12), -2)), "type": "supergroup", "title": "Fuzz group"}
    chat = draw(st.sampled_from([private_chat(user_id)] * 4 + [group]))
    private = chat["type"] == "private"
    kind = draw(st.sampled_from(["text", "command", "button", "attachment", "edited", "channel",
                                 "member", "inline", "forward"]))  # fmt: skip
    body: dict
    if kind == "text":
        body = {"message": message(sender, chat, text=draw(UNICODE) or "?")}
    elif kind == "command":
        name = draw(st.sampled_from(COMMANDS))
        args = draw(st.one_of(PAYLOADS, UNICODE))
        text = f"/{name} {args}".strip()
        entity = {"type": "bot_command", "offset": 0, "length": len(name) + 1}
        body = {"message": message(sender, chat, text=text, entities=[entity])}
    elif kind == "button":
        data = draw(st.one_of(
            st.text(max_size=90),
            st.builds(lambda action, args: ":".join([action, *args]), st.sampled_from(ACTIONS),
                      st.lists(st.from_regex(r"[A-Za-z0-9_-]{0,50}", fullmatch=True), max_size=4)),
        ))  # fmt: skip
        pressed = message({"id": 1, "is_bot": True, "first_name": "Passaparola"}, chat, text="…")
        # Only people press buttons: Telegram sends no callback queries from bots.
        query = {"id": str(next(update_ids)), "from": person(user_id), "chat_instance": "1",
                 "message": pressed, "data": data}  # fmt: skip
        return {"callback_query": query}, None, None
    elif kind == "attachment":
        attachment = draw(st.sampled_from(ATTACHMENTS))
        content = {
            "sticker": {"file_id": "s", "file_unique_id": "s", "type": "regular", "width": 1,
                        "height": 1, "is_animated": False, "is_video": False},
            "voice": {"file_id": "v", "file_unique_id": "v", "duration": 1},
            "photo": [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}],
            "location": {"latitude": 44.1, "longitude": 12.2},
            "document": {"file_id": "d", "file_unique_id": "d"},
            "contact": {"phone_number": "+390000", "first_name": "X"},
            "dice": {"emoji": "🎲", "value": 3},
        }[attachment]  # fmt: skip
        body = {"message": message(sender, chat, **{attachment: content})}
    elif kind == "edited":
        body = {"edited_message": {**message(sender, chat, text=draw(UNICODE) or "?"),
                                   "edit_date": 1_760_000_001}}  # fmt: skip
        private = False  # an edit is explained, not required to be answered
    elif kind == "channel":
        channel = {"id": -100_888, "type": "channel", "title": "News"}
        post = {"message_id": next(message_ids), "date": 1_760_000_000, "chat": channel,
                "text": draw(UNICODE) or "?"}  # fmt: skip
        return {"channel_post": post}, None, None
    elif kind == "member":
        status = draw(st.sampled_from(["member", "kicked", "left", "administrator"]))
        old = draw(st.sampled_from(["member", "kicked", "left"]))
        me = {"id": 1, "is_bot": True, "first_name": "Passaparola"}
        change = {"chat": chat, "from": sender, "date": 1_760_000_000,
                  "old_chat_member": {"status": old, "user": me, "until_date": 0},
                  "new_chat_member": {"status": status, "user": me, "until_date": 0}}  # fmt: skip
        if status == "administrator":
            change["new_chat_member"] |= {"can_be_edited": False, "is_anonymous": False,
                                          **dict.fromkeys(ADMIN_RIGHTS, False)}  # fmt: skip
        return {"my_chat_member": change}, None, user_id if private and from_bot else None
    elif kind == "inline":
        inline = {"id": str(next(update_ids)), "from": sender, "query": draw(UNICODE),
                  "offset": ""}  # fmt: skip
        return {"inline_query": inline}, None, None
    else:  # a forwarded card with its deep link
        link = f"https://t.me/passaparola_demo_bot?start={draw(PAYLOADS)}"
        origin = {"type": "hidden_user", "sender_user_name": "Someone", "date": 1_760_000_000}
        body = {"message": message(sender, chat, text=link, forward_origin=origin)}
    if from_bot:
        return body, None, user_id if private else None
    return body, user_id if private else None, None


ADMIN_RIGHTS = ("can_manage_chat", "can_delete_messages", "can_manage_video_chats",
                "can_restrict_members", "can_promote_members", "can_change_info",
                "can_invite_users", "can_post_stories", "can_edit_stories",
                "can_delete_stories")  # fmt: skip


async def privileged_rows(database_url: str) -> dict[str, object]:
    """Everything only staff may change: roles, organisations, opportunities, the FAQ."""
    engine = create_engine(database_url)
    async with create_sessionmaker(engine)() as session:
        users = await session.scalars(select(User))
        opportunities = await session.scalars(select(Opportunity))
        rows = {
            "roles": sorted((user.channel_user_id, tuple(user.roles)) for user in users),
            "organisations": list(await session.scalars(select(Organisation.name))),
            "opportunities": [(row.id, row.status, row.category) for row in opportunities],
            "faq": list(await session.scalars(select(FaqEntry.id))),
        }
    await engine.dispose()
    return rows


FUZZ_USERS = list(range(FIRST_USER_ID, FIRST_USER_ID + 6))  # the fixture's playground users


@pytest.fixture
async def target(served: RunningPlayground, settings, conversation) -> AsyncIterator[Target]:
    """The running bot, a small city, six people in the playground, and a record of failures."""
    await seed_city(conversation)
    for number in range(len(FUZZ_USERS)):
        served.playground.add_user(f"Fuzz {number}", "ar")
    unthrottled = settings.model_copy(update={"reply_rate": 0})  # the attack, not the pacing
    async with run_bot(unthrottled, served) as bot:
        target = Target(bot, served, settings.database_url, [], {})
        target.privileged = await privileged_rows(settings.database_url)

        async def record(update: object, context: CallbackContext) -> None:
            target.failures.append(context.error)

        bot.add_error_handler(record)
        yield target


@dataclass
class Target:
    """What the property test attacks and watches."""

    bot: Application
    served: RunningPlayground
    database_url: str
    failures: list[BaseException | None]
    privileged: dict[str, object]


@hypothesis_settings(max_examples=BATCHES, deadline=None, database=None,
                     phases=[Phase.generate],  # a failing batch is reported as it is, unshrunk
                     suppress_health_check=list(HealthCheck))  # fmt: skip
@given(batch=st.lists(updates(FUZZ_USERS), min_size=PER_BATCH, max_size=PER_BATCH))
async def test_ten_thousand_generated_updates_never_crash_and_always_answer(
    target: Target,
    caplog: pytest.LogCaptureFixture,
    batch: list[tuple[dict, int | None, int | None]],
):
    playground = target.served.playground
    with caplog.at_level(logging.ERROR):
        for body, must_answer, must_not_answer in batch:
            update = Update.de_json({"update_id": next(update_ids), **body}, target.bot.bot)
            watched = must_answer or must_not_answer
            answered_before = len(playground.transcript(watched)) if watched else 0
            await target.bot.process_update(update)
            if must_answer is not None:
                assert len(playground.transcript(must_answer)) > answered_before, body
            if must_not_answer is not None:
                assert len(playground.transcript(must_not_answer)) == answered_before, body

    assert target.failures == []
    assert [r.getMessage() for r in caplog.records if r.name.startswith(("bot", "handlers"))] == []
    assert await privileged_rows(target.database_url) == target.privileged
