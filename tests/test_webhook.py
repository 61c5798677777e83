"""Webhook mode over real HTTP: the playground posts updates like Telegram; health and metrics."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import Metrics
from bot.monitoring import listening, monitoring_app
from bot.playground.client import SimulatedUser
from bot.webhook import SECRET_HEADER
from storage.db import create_engine
from tests.support.servers import RunningWebhook, free_port, run_bot, run_webhook_bot

METRIC_NAMES = (
    "passaparola_updates_total",
    "passaparola_update_seconds",
    "passaparola_messages_total",
    "passaparola_delivery_queue_depth",
    "passaparola_search_seconds",
)


@pytest.fixture
async def hook(settings, served) -> AsyncIterator[RunningWebhook]:
    """The real bot in webhook mode, the playground set up to post to it."""
    async with run_webhook_bot(settings, served) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client, standing in for Telegram or for anyone on the internet."""
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


def start_update(update_id: int, user: SimulatedUser) -> dict:
    """A Telegram-shaped update: `user` sends /start in their private chat."""
    sender = {k: v for k, v in user.profile.items() if k in ("id", "is_bot", "first_name")}
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "from": sender | {"language_code": "en"},
            "chat": {"id": user.id, "type": "private", "first_name": sender["first_name"]},
            "date": int(time.time()),
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


def bot_messages(served, user: SimulatedUser) -> list[dict]:
    return [m for m in served.playground.transcript(user.id) if m["from"]["is_bot"]]


async def updates_counted(http: httpx.AsyncClient, hook: RunningWebhook, kind: str) -> float:
    """passaparola_updates_total for `kind`, read from the bot's /metrics page."""
    page = (await http.get(f"{hook.url}/metrics")).text
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            if sample.name == "passaparola_updates_total" and sample.labels == {"kind": kind}:
                return sample.value
    return 0.0


async def test_the_bot_sets_its_webhook_and_answers_what_telegram_posts(hook, served, client):
    assert served.playground.webhook is not None
    assert served.playground.webhook.url == hook.webhook_url
    assert served.playground.webhook.secret_token == hook.secret
    amina = await client.add_user("Amina", "ar")

    await amina.send("/start")

    picker = await amina.next_reply()
    assert "العربية" in str(picker["reply_markup"])


async def test_only_updates_with_the_secret_token_reach_the_bot(hook, served, client, http):
    sam = await client.add_user("Sam", "en")

    missing = await http.post(hook.webhook_url, json=start_update(900, sam))
    wrong = await http.post(
        hook.webhook_url, json=start_update(901, sam), headers={SECRET_HEADER: "guessed"}
    )
    right = await http.post(
        hook.webhook_url, json=start_update(902, sam), headers={SECRET_HEADER: hook.secret}
    )

    assert (missing.status_code, wrong.status_code, right.status_code) == (403, 403, 200)
    await sam.next_reply()  # one chat's updates run in order: a refused one would come first
    assert len(bot_messages(served, sam)) == 1
    assert await updates_counted(http, hook, "command") == 1


async def test_a_body_that_is_not_an_update_is_refused(hook, http):
    headers = {SECRET_HEADER: hook.secret}

    not_json = await http.post(hook.webhook_url, content=b"{oops", headers=headers)
    not_update = await http.post(hook.webhook_url, json={"hello": "world"}, headers=headers)

    assert (not_json.status_code, not_update.status_code) == (400, 400)


async def test_healthz_answers_with_json_on_the_webhook_port(hook, http):
    response = await http.get(f"{hook.url}/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["database"] == "ok"


async def test_metrics_count_the_updates_the_bot_handled(hook, client, http):
    page = await http.get(f"{hook.url}/metrics")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain")
    assert all(name in page.text for name in METRIC_NAMES)
    before = await updates_counted(http, hook, "command")
    giulia = await client.add_user("Giulia", "it")

    await giulia.send("/start")
    await giulia.next_reply()

    assert await updates_counted(http, hook, "command") == before + 1
    page = (await http.get(f"{hook.url}/metrics")).text
    assert 'passaparola_messages_total{outcome="sent",source="reply"} 1.0' in page


async def test_updates_wait_while_the_bot_is_down_and_polling_takes_them_back(
    settings, served, client
):
    async with run_webhook_bot(settings, served):
        pass
    assert served.playground.webhook is not None, "stopping leaves the webhook set"
    sam = await client.add_user("Sam", "en")
    await sam.send("/start")  # nobody takes it yet

    async with run_bot(settings, served):
        picker = await sam.next_reply()

    assert "English" in str(picker["reply_markup"])
    assert served.playground.webhook is None, "polling removed the webhook"


async def test_healthz_is_503_when_the_database_does_not_answer(http):
    engine = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/nothing")  # nothing there
    port = free_port()
    try:
        async with listening(monitoring_app(engine, Metrics(), "polling"), "127.0.0.1", port, "X"):
            response = await http.get(f"http://127.0.0.1:{port}/healthz")
    finally:
        await engine.dispose()

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
