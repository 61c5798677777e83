"""The long-running commands as real processes: `run` with METRICS_PORT, `webhook --workers 2`."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.db import create_engine, create_sessionmaker, migrate
from storage.deliveries import DeliveryRepository
from storage.users import UserRepository
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
RECIPIENTS = 60
STARTUP_TIMEOUT = 60.0  # seconds: two interpreters start on a shared, busy machine


async def wait_until_healthy(http: httpx.AsyncClient, url: str, bot: asyncio.subprocess.Process):
    """GET url/healthz until it answers 200; fails if the bot exits first."""
    async with asyncio.timeout(STARTUP_TIMEOUT):
        while bot.returncode is None:
            try:
                response = await http.get(f"{url}/healthz")
                if response.status_code == 200:
                    return response.json()
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"the bot exited with {bot.returncode} before it was healthy")


async def delivered(http: httpx.AsyncClient, url: str) -> float:
    """How many queued messages this process sent, from its /metrics page."""
    for family in text_string_to_metric_families((await http.get(f"{url}/metrics")).text):
        for sample in family.samples:
            if sample.name == "passaparola_messages_total" and sample.labels == {
                "source": "delivery",
                "outcome": "sent",
            }:
                return sample.value
    return 0.0


async def queued(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return (await DeliveryRepository(session).counts()).queued


def bot_environment(served, database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a bot process on the playground: only these settings, no .env."""
    environment = {k: v for k, v in os.environ.items() if not k.isupper() or k in ("PATH", "HOME")}
    return environment | {
        "PYTHONPATH": str(ROOT),
        "BOT_TOKEN": served.playground.token,
        "BOT_API_URL": served.url,
        "DATABASE_URL": database_url,
        **settings,
    }


async def start_bot(tmp_path: Path, environment: dict[str, str], *args: str):
    """`python -m bot <args>` in tmp_path, its output in tmp_path/bot.log."""
    with (tmp_path / "bot.log").open("w") as log:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *args,
            cwd=tmp_path, env=environment, stdout=log, stderr=log,
        )  # fmt: skip


async def stop_bot(bot: asyncio.subprocess.Process) -> int:
    """SIGTERM, and its exit code (killed if it does not end in time)."""
    if bot.returncode is None:
        bot.send_signal(signal.SIGTERM)
    try:
        async with asyncio.timeout(30):
            return await bot.wait()
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()


async def test_polling_serves_health_and_metrics_on_metrics_port(tmp_path, served, client):
    metrics_port = free_port()
    environment = bot_environment(
        served, f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", METRICS_PORT=str(metrics_port)
    )
    sam = await client.add_user("Sam", "en")
    bot = await start_bot(tmp_path, environment, "run")
    url = f"http://127.0.0.1:{metrics_port}"
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await wait_until_healthy(http, url, bot))["role"] == "polling"
            await sam.send("/start")
            await sam.next_reply()
            page = (await http.get(f"{url}/metrics")).text
    finally:
        returncode = await stop_bot(bot)
        await sam.send("bye")  # ends the playground's wait on the stopped bot's last long poll

    assert 'passaparola_updates_total{kind="command"} 1.0' in page
    assert returncode == 0, (tmp_path / "bot.log").read_text()


def children(pid: int) -> list[int]:
    """Process ids whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return found


async def still_running(pids: list[int]) -> list[int]:
    """Those of `pids` that are still running."""
    running = []
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        running.append(pid)
    return running


async def eventually(probe: Callable[[], Awaitable[Any]], expected: Any, seconds: float) -> None:
    """Wait (bounded) until an effect in another process becomes visible."""
    for _ in range(int(seconds / 0.05)):
        if await probe() == expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never became {expected!r}")


async def test_two_workers_send_each_message_once_and_stop_on_sigterm(tmp_path, served):
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    engine = create_engine(database_url)
    await migrate(engine)
    sessionmaker = create_sessionmaker(engine)
    chats = [served.playground.add_user(f"Person {n}", "en")["id"] for n in range(RECIPIENTS)]
    async with sessionmaker() as session:
        users = UserRepository(session)
        user_ids = []
        for chat_id in chats:
            user = await users.create("telegram", str(chat_id), "en")
            await users.give_consent(user)
            user_ids.append(user.id)
        await session.commit()
    webhook_port, metrics_port = free_port(), free_port()
    environment = bot_environment(
        served, database_url,
        WEBHOOK_URL=f"http://127.0.0.1:{webhook_port}/telegram",
        WEBHOOK_PORT=str(webhook_port),
        METRICS_PORT=str(metrics_port),
        DELIVERY_RATE="40",  # 20/s each: both processes get a share of 60 messages
    )  # fmt: skip
    bot = await start_bot(tmp_path, environment, "webhook", "--workers", "2")
    main_url = f"http://127.0.0.1:{webhook_port}"
    worker_url = f"http://127.0.0.1:{metrics_port}"
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await wait_until_healthy(http, main_url, bot))["role"] == "webhook"
            worker = await wait_until_healthy(http, worker_url, bot)
            assert worker["role"] == "delivery"
            assert worker["pid"] in children(bot.pid)

            async with sessionmaker() as session:
                payload = {"texts": {"en": "Hello!"}}
                await DeliveryRepository(session).enqueue_many(user_ids, "text", payload)
                await session.commit()
            await eventually(lambda: queued(sessionmaker), 0, seconds=30)

            sent = [await delivered(http, main_url), await delivered(http, worker_url)]
        processes = children(bot.pid)
    finally:
        returncode = await stop_bot(bot)
        await engine.dispose()

    output = (tmp_path / "bot.log").read_text()
    assert returncode == 0, output
    assert "Traceback" not in output
    assert "delivery worker 1 stopped" in output
    assert all(served.playground.received[chat_id] == 1 for chat_id in chats)
    assert sum(sent) == RECIPIENTS and all(sent), f"each process sent some: {sent}"
    await eventually(lambda: still_running(processes), [], seconds=10)  # a helper may linger
