"""The Telegram adapter turns real PTB Update objects into Events, and nothing it should not."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from telegram import (
    Chat,
    ChatMemberBanned,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberUpdated,
    Location,
    Message,
    MessageEntity,
    Update,
    User,
)

from bot.channels.telegram import TelegramChannel, split_text
from bot.turn import Command, Membership, Text, Unsupported

BOT = User(7, "Passaparola", is_bot=True, username="passaparola_demo_bot")
AMINA = User(1001, "Amina", is_bot=False, language_code="ar")
PRIVATE = Chat(1001, Chat.PRIVATE)
GROUP = Chat(-500, Chat.GROUP, title="Cesena newcomers")
CHANNEL = Chat(-1009, Chat.CHANNEL, title="News")
NOW = datetime(2026, 11, 21, tzinfo=UTC)


def message(chat: Chat = PRIVATE, text: str | None = None, **content) -> Message:
    entities = ()
    if text and text.startswith("/"):
        entities = (MessageEntity(MessageEntity.BOT_COMMAND, 0, len(text.split()[0])),)
    return Message(1, NOW, chat, from_user=AMINA, text=text, entities=entities, **content)


def to_event(update: Update):
    return TelegramChannel(conversation=None).to_event(update, "passaparola_demo_bot")  # type: ignore[arg-type]


def test_commands_text_and_attachments_become_events():
    assert to_event(Update(1, message=message(text="/start o12_ab"))).input == Command(
        "start", "o12_ab"
    )
    assert to_event(Update(1, message=message(text="hello"))).input == Text("hello")
    located = message(location=Location(12.24, 44.14))
    assert to_event(Update(1, message=located)).input == Unsupported("location")


def test_commands_for_another_bot_are_not_ours():
    assert to_event(Update(1, message=message(text="/start@other_bot"))).input == Text(
        "/start@other_bot"
    )


def test_messages_from_other_bots_are_never_answered():
    other_bot = User(8, "Spam Relay", is_bot=True, username="spam_relay_bot")
    for chat, text in ((PRIVATE, "hello"), (PRIVATE, "/start o12_ab"),
                       (GROUP, "/help@passaparola_demo_bot"),
                       (GROUP, "hey @passaparola_demo_bot what is this?")):  # fmt: skip
        from_a_person = message(chat=chat, text=text)
        assert to_event(Update(1, message=from_a_person)) is not None, text
        from_a_bot = Message(
            1, NOW, chat, from_user=other_bot, text=text, entities=from_a_person.entities
        )
        assert to_event(Update(1, message=from_a_bot)) is None, text


def test_service_messages_need_no_answer():
    pinned = message(pinned_message=message(text="pinned"))
    assert to_event(Update(1, message=pinned)) is None


def test_text_edits_get_an_answer_but_live_location_updates_do_not():
    assert to_event(Update(1, edited_message=message(text="fixed typo"))).input == Unsupported(
        "edited"
    )
    moving = message(location=Location(12.25, 44.15, live_period=900))
    assert to_event(Update(1, edited_message=moving)) is None


@pytest.mark.parametrize(
    ("chat", "text", "expected"),
    [
        (GROUP, "chatting among ourselves", None),
        (GROUP, "/help@passaparola_demo_bot", Command("help")),
        (
            GROUP,
            "hey @Passaparola_Demo_Bot what is this?",
            Text("hey @Passaparola_Demo_Bot what is this?"),
        ),
    ],
)
def test_in_groups_only_what_is_addressed_to_the_bot(chat, text, expected):
    event = to_event(Update(1, message=message(chat=chat, text=text)))
    assert (event.input if event else None) == expected
    if event:
        assert not event.sender.is_private


def member_update(chat: Chat, old, new) -> Update:
    return Update(1, my_chat_member=ChatMemberUpdated(chat, AMINA, NOW, old, new))


def test_membership_changes_are_joins_and_leaves_only():
    member, left = ChatMemberMember(BOT), ChatMemberLeft(BOT)
    banned = ChatMemberBanned(BOT, until_date=NOW)
    assert to_event(member_update(PRIVATE, member, banned)).input == Membership(joined=False)
    assert to_event(member_update(PRIVATE, banned, member)).input == Membership(joined=True)
    assert to_event(member_update(GROUP, left, member)).input == Membership(joined=True)
    assert to_event(member_update(GROUP, member, member)) is None  # e.g. a permission change
    assert to_event(member_update(CHANNEL, left, member)) is None  # never post in channels


def test_updates_without_a_person_are_ignored():
    channel_post = Message(1, NOW, CHANNEL, text="news")
    assert to_event(Update(1, channel_post=channel_post)) is None


def test_long_texts_split_at_paragraphs_and_count_utf16_units():
    text = "a" * 3000 + "\n\n" + "b" * 1000 + "\n" + "c" * 500
    parts = split_text(text)
    assert parts == ["a" * 3000, "b" * 1000 + "\n" + "c" * 500]

    emoji = "🙂" * 2500  # 5,000 UTF-16 units
    parts = split_text(emoji)
    assert [len(part) for part in parts] == [2048, 452]
    assert all(len(part.encode("utf-16-le")) // 2 <= 4096 for part in parts)
