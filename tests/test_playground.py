"""The playground answers like Telegram: shapes, errors, limits and injected faults."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
import time
from pathlib import Path

import httpx
import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
)
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from bot.playground.state import ApiError, RateRule

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def api(served):
    """The Bot API as the bot sees it, through python-telegram-bot's own Bot."""
    bot = Bot(served.playground.token, base_url=f"{served.url}/bot")
    async with bot:
        yield bot


async def test_get_me_and_unknown_methods(api, served):
    me = await api.get_me()
    assert me.username == "passaparola_demo_bot"

    async with httpx.AsyncClient() as http:
        response = await http.post(f"{served.url}/bot{served.playground.token}/sendSticker")
        wrong_token = await http.post(f"{served.url}/bot123:wrong/getMe")
    assert response.status_code == 400
    assert response.json() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: method 'sendSticker' is not supported",
    }
    assert wrong_token.status_code == 401


async def test_send_edit_and_delete_follow_telegrams_rules(api, served, client):
    user = await client.add_user("Amina", "ar")
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("ok", callback_data="menu:open")]])

    sent = await api.send_message(user.id, "مرحبا", reply_markup=markup)
    edited = await api.edit_message_text("أهلا", chat_id=user.id, message_id=sent.message_id)
    assert edited.text == "أهلا" and edited.reply_markup is None
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await api.edit_message_text("أهلا", chat_id=user.id, message_id=sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)text is empty"):
        await api.send_message(user.id, " ")
    with pytest.raises(BadRequest, match=r"(?i)too long"):
        await api.send_message(user.id, "x" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        too_long = InlineKeyboardButton("x", callback_data="y" * 65)
        await api.send_message(user.id, "hi", reply_markup=InlineKeyboardMarkup([[too_long]]))
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await api.send_message(999, "hi")

    assert await api.delete_message(user.id, sent.message_id)
    assert await user.transcript() == []
    with pytest.raises(BadRequest, match=r"(?i)not found"):
        await api.delete_message(user.id, sent.message_id)


async def test_photos_and_documents_are_uploaded_as_multipart(api, client, served):
    user = await client.add_user("Giulia", "it")

    photo = await api.send_photo(user.id, b"\x89PNG fake image bytes", caption="Poster")
    document = await api.send_document(user.id, b"a,b\n1,2\n", filename="figures.csv")

    assert photo.caption == "Poster" and photo.photo[0].file_size == 21
    assert document.document.file_name == "figures.csv"
    async with httpx.AsyncClient() as http:
        no_photo = await http.post(
            f"{served.url}/bot{served.playground.token}/sendPhoto", data={"chat_id": user.id}
        )
    assert no_photo.status_code == 400 and "no photo" in no_photo.json()["description"]
    async with httpx.AsyncClient() as http:
        shown = await http.get(f"{served.url}/api/files/{photo.photo[0].file_id}")
        unknown = await http.get(f"{served.url}/api/files/photo-nobody-sent")
    assert shown.content == b"\x89PNG fake image bytes", "the chat page shows what was uploaded"
    assert unknown.status_code == 404


async def test_callback_answers_inline_answers_and_command_scopes(api, client, served):
    user = await client.add_user("Mehmet", "tr")
    sent = await api.send_message(user.id, "?", reply_markup=InlineKeyboardMarkup(
        [[InlineKeyboardButton("a", callback_data="menu:open")]]))  # fmt: skip
    query_id = await user.press_data(sent.message_id, "menu:open")

    assert await api.answer_callback_query(query_id, text="Tamam")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await api.answer_callback_query(query_id, text="again")

    inline_id = await served.playground.user_inline_query(user.id, "yemek")
    result = InlineQueryResultArticle("1", "Card", InputTextMessageContent("text"))
    assert await api.answer_inline_query(inline_id, [result], cache_time=30, is_personal=True)
    assert served.playground.inline_answers[inline_id]["is_personal"] is True

    from telegram import BotCommand, BotCommandScopeChat

    await api.set_my_commands([BotCommand("start", "Default")])
    await api.set_my_commands([BotCommand("start", "Başla")], language_code="tr")
    assert [c["description"] for c in await user.commands()] == ["Başla"]
    await api.set_my_commands([BotCommand("start", "Sohbet")], scope=BotCommandScopeChat(user.id))
    assert [c["description"] for c in await user.commands()] == ["Sohbet"]
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await api.set_my_commands([BotCommand("Not Valid", "x")])


async def test_injected_faults_look_like_telegrams(api, client):
    user = await client.add_user("Sam", "en")
    await client.add_fault("429", method="sendMessage", retry_after=3)
    await client.add_fault("403", method="sendMessage", chat_id=user.id)
    await client.add_fault("5xx", method="getMe")
    await client.add_fault("slow", method="sendMessage", delay=0.2)

    with pytest.raises(RetryAfter) as rate_limited:
        await api.send_message(user.id, "one")
    assert rate_limited.value.retry_after.total_seconds() == 3
    with pytest.raises(Forbidden, match=r"(?i)blocked by the user"):
        await api.send_message(user.id, "two")
    with pytest.raises(NetworkError):
        await api.get_me()
    started = time.monotonic()
    assert (await api.send_message(user.id, "three")).text == "three"
    assert time.monotonic() - started >= 0.2, "the slow fault delayed the answer"


def test_send_rate_window_slides_like_telegrams():
    rule = RateRule(per_second=2, per_chat=1)
    rule.check(chat_id=1, now=10.0)
    with pytest.raises(ApiError) as same_chat:
        rule.check(chat_id=1, now=10.5)  # one per second in one chat
    rule.check(chat_id=2, now=10.5)
    with pytest.raises(ApiError):
        rule.check(chat_id=3, now=10.9)  # two per second overall
    rule.check(chat_id=1, now=11.2)  # a second later the window has moved on

    assert same_chat.value.code == 429 and same_chat.value.retry_after == 1


async def test_send_rate_answers_429_over_http(api, client):
    user = await client.add_user("Sam", "en")
    await client.set_rate(per_second=1)

    await api.send_message(user.id, "first")
    with pytest.raises(RetryAfter):
        await api.send_message(user.id, "second, in the same second")


async def test_blocking_the_bot_forbids_sends_and_tells_the_bot(api, client, served):
    user = await client.add_user("Sam", "en")
    await user.block()

    with pytest.raises(Forbidden):
        await api.send_message(user.id, "hello")
    updates = await api.get_updates()
    assert updates[-1].my_chat_member.new_chat_member.status == "kicked"


async def test_simulated_users_get_clear_errors(client):
    user = await client.add_user("Sam", "en")
    with pytest.raises(Exception, match=r"(?i)message not found"):
        await user.press_data(12345, "menu:open")
    with pytest.raises(Exception, match=r"(?i)unknown attachment"):
        await user.send_kind("hologram")
    with pytest.raises(Exception, match=r"(?i)first_name is required"):
        await client.call("POST", "/users", {"first_name": " "})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_the_demo_command_serves_the_page_and_the_bot_answers(tmp_path):
    port = free_port()
    demo = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "demo", "--port", str(port),
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert demo.stdout is not None
        line = ""
        while "Open http" not in line:
            line = (await asyncio.wait_for(demo.stdout.readline(), 60)).decode()
            assert line, "the demo exited before it was ready"
        url = re.search(r"http://\S+/", line).group(0)
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            page = await http.get("/")
            people = (await http.get("/api/users")).json()
            amina = next(person for person in people if person["first_name"] == "Amina")
            await http.post("/api/send", json={"user_id": amina["id"], "text": "/start"})
            for _ in range(100):
                chat = (await http.get(f"/api/chats/{amina['id']}")).json()
                if len(chat["messages"]) == 2:
                    break
                await asyncio.sleep(0.05)
        assert "Passaparola playground" in page.text
        assert len(people) == 8  # Sara the admin, Luca the coordinator, and six newcomers
        assert chat["messages"][1]["reply_markup"]["inline_keyboard"][0][0]["text"] == "✅ العربية"
    finally:
        demo.send_signal(signal.SIGINT)
        await asyncio.wait_for(demo.communicate(), 30)
    assert demo.returncode == 0
