"""The real PTB Application talking HTTP to the playground, as people would use it."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from telegram import Update

from bot.i18n import FIRST_STRONG_ISOLATE
from storage.db import create_engine, create_sessionmaker
from storage.models import User, UserStatus
from tests.support.servers import run_bot


def labels(message: dict) -> list[str]:
    return [key["text"] for row in message.get("reply_markup", {}).get("inline_keyboard", [])
            for key in row]  # fmt: skip


async def onboard(user, language_label: str) -> dict:
    """/start, pick the language, agree: returns the menu message."""
    await user.send("/start")
    await user.next_reply()
    await user.press(language_label)
    await user.next_reply()  # the picker, edited into the welcome and the privacy notice
    await user.press("✅")  # "I agree, continue"
    return await user.next_reply()  # the notice, edited to carry the menu


async def test_onboarding_in_arabic_right_to_left(bot, client):
    amina = await client.add_user("Amina", "ar")

    await amina.send("/start")
    picker = await amina.next_reply()
    assert labels(picker)[0] == "✅ العربية"

    await amina.press("العربية")
    welcome = await amina.next_reply()
    assert welcome["message_id"] == picker["message_id"], "the picker turns into the welcome"
    assert "Passaparola" in welcome["text"]
    assert f"{FIRST_STRONG_ISOLATE}/forget" in welcome["text"]

    await amina.press("✅")
    answer = await amina.next_event("answer")
    assert answer["body"]["text"] and answer["body"]["text"] != "Thank you!"
    menu = await amina.next_reply()
    assert menu["message_id"] == picker["message_id"] and "/forget" in menu["text"]
    assert len(labels(menu)) == 5
    assert all(any("\u0600" <= ch <= "\u06ff" for ch in label) for label in labels(menu))

    commands = await amina.commands()
    assert [c["command"] for c in commands][:2] == ["start", "menu"]
    assert all(any("\u0600" <= ch <= "\u06ff" for ch in c["description"]) for c in commands)


async def test_the_command_list_is_published_in_every_app_language(bot, client):
    expected = {
        "tr": "Başlat ve ana menüyü göster",
        "de": "Starten und Hauptmenü anzeigen",
        None: "Start and show the main menu",
    }
    for language_code, description in expected.items():
        newcomer = await client.add_user("Newcomer", language_code)
        [start] = [c for c in await newcomer.commands() if c["command"] == "start"]
        assert start["description"] == description, language_code
    arabic = await client.add_user("Amina", "ar")
    descriptions = [c["description"] for c in await arabic.commands()]
    assert all(any("\u0600" <= ch <= "\u06ff" for ch in text) for text in descriptions)


async def test_onboarding_in_italian_left_to_right(bot, client):
    giulia = await client.add_user("Giulia", "it")

    menu = await onboard(giulia, "Italiano")

    assert "Volontariato" in " ".join(labels(menu))
    assert FIRST_STRONG_ISOLATE not in menu["text"]


async def test_switching_language_changes_replies_and_command_menu(bot, client):
    mehmet = await client.add_user("Mehmet", "tr")
    await onboard(mehmet, "English")

    await mehmet.send("/language")
    await mehmet.next_reply()
    await mehmet.press("Türkçe")
    switched = await mehmet.next_reply()
    assert "Türkçe" in switched["text"] and "Gönüllülük" in " ".join(labels(switched))

    await mehmet.send("/help")
    help_text = (await mehmet.next_reply())["text"]
    assert "Dili değiştir" in help_text
    assert {c["description"] for c in await mehmet.commands()} >= {"Dili değiştir"}


async def test_forgetting_puts_back_the_command_list_of_the_app_language(bot, client):
    hana = await client.add_user("Hana", "de")
    await onboard(hana, "العربية")
    arabic = [c["description"] for c in await hana.commands()]
    assert all(any("\u0600" <= ch <= "\u06ff" for ch in text) for text in arabic)

    await hana.send("/forget")
    confirm = await hana.next_reply()
    await hana.press_data(confirm["message_id"], "forget:yes")
    await hana.next_reply()

    [start] = [c for c in await hana.commands() if c["command"] == "start"]
    assert start["description"] == "Starten und Hauptmenü anzeigen", "German, as her app is"


async def test_unknown_input_always_gets_an_answer_and_the_menu(bot, client):
    sam = await client.add_user("Sam", None)
    await onboard(sam, "English")

    for kind in ("sticker", "voice", "photo", "location"):
        await sam.send_kind(kind)
        reply = await sam.next_reply()
        assert "I can" in reply["text"] and len(labels(reply)) == 5, kind

    typed = await sam.send("hello?")
    assert "/help" in (await sam.next_reply())["text"]
    await sam.edit(typed["message_id"], "hello!")
    assert "edited" in (await sam.next_reply())["text"]


async def test_forged_callback_data_is_answered_as_expired(bot, client):
    sam = await client.add_user("Sam", "en")
    menu = await onboard(sam, "English")

    await sam.press_data(menu["message_id"], "lang:set:../../etc")
    assert (await sam.next_event("answer"))["body"]["text"] == "This button has expired."
    assert "expired" in (await sam.next_reply())["text"]


async def test_a_press_on_a_posted_card_with_no_chat_still_stops_the_spinner(bot, served):
    # A button on a message posted "via @bot" in someone else's chat comes without a chat.
    query = {"id": "77", "from": {"id": 8100, "is_bot": False, "first_name": "Lin"},
             "chat_instance": "9", "inline_message_id": "AbC", "data": "menu:home"}  # fmt: skip
    answered = served.playground.stats.calls.get("answercallbackquery", 0)

    await bot.process_update(Update.de_json({"update_id": 1, "callback_query": query}, bot.bot))

    assert served.playground.stats.calls.get("answercallbackquery", 0) == answered + 1


async def test_group_chats_get_a_pointer_to_a_private_chat_only_when_addressed(bot, client, served):
    alice = await client.add_user("Alice", "en")
    group = await served.playground.add_group("Cesena newcomers", [alice.id])
    intro = await alice.next_reply(chat_id=group["id"])
    assert "private" in intro["text"]

    await alice.send("just chatting among ourselves", chat_id=group["id"])
    await alice.send("/help@passaparola_demo_bot", chat_id=group["id"])
    reply = await alice.next_reply(chat_id=group["id"])
    assert "private" in reply["text"]
    await alice.send("what do you do, @passaparola_demo_bot?", chat_id=group["id"])
    assert "private" in (await alice.next_reply(chat_id=group["id"]))["text"]
    bot_messages = [m for m in served.playground.transcript(group["id"]) if m["from"]["is_bot"]]
    assert len(bot_messages) == 3, "the plain group message got no answer"


async def test_a_restart_keeps_the_users_language(client, served, settings):
    oksana = await client.add_user("Oksana", "en")
    async with run_bot(settings, served):
        await onboard(oksana, "Українська")

    async with run_bot(settings, served):
        await oksana.send("/start")
        reply = await oksana.next_reply()

    assert "Passaparola" in reply["text"]
    assert any("\u0400" <= ch <= "\u04ff" for ch in reply["text"])


async def test_rate_limited_replies_are_retried_not_dropped(bot, client):
    sam = await client.add_user("Sam", "en")
    await client.add_fault("429", method="sendMessage", retry_after=1)

    await sam.send("/start")

    picker = await sam.next_reply(timeout=15)
    assert "✅ English" in labels(picker)
    assert (await client.stats())["errors"]["429"] == 1


async def test_a_user_who_blocked_the_bot_is_marked_stopped_until_they_write(bot, client, settings):
    sam = await client.add_user("Sam", "en")
    await onboard(sam, "English")
    await client.add_fault("403", method="sendMessage", chat_id=sam.id)
    engine = create_engine(settings.database_url)
    sessionmaker = create_sessionmaker(engine)

    async def status() -> UserStatus:
        async with sessionmaker() as session:
            return (await session.scalar(select(User))).status

    await sam.send("/menu")
    await eventually(lambda: status(), UserStatus.STOPPED)
    await sam.send("/help")
    assert "/forget" in (await sam.next_reply())["text"]
    assert await status() is UserStatus.ACTIVE
    await engine.dispose()


async def eventually(probe, expected, attempts: int = 100) -> None:
    """Wait (bounded) until an asynchronous effect becomes visible."""
    for _ in range(attempts):
        if await probe() == expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never became {expected!r}")
