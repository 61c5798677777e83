"""Broadcast throughput: 20,000 and 100,000 simulated users, at Telegram-like limits, over HTTP.

The playground (this process) enforces a send rate of L messages/s and fails 5% of sends at random
with a 502. The bot (`python -m bot run`, its own process, SQLite) gets the users in its database,
and an admin composes the broadcast in the chat, exactly as a person would: /broadcast, the text,
Everyone, Send now. Measured:

- achieved rate: send calls per second (accepted or failed) from the first send until as many
  calls as there are recipients, as a share of L (the retries' tail after that is not pacing);
- 429s the bot provoked, duplicates (a recipient with more than one copy) and losses (none);
- drain time: from Send now to the final report in the admin's chat, retries included;
- peak RSS of the bot process (VmHWM), which must not grow with the audience.

The bot runs with DELIVERY_RATE just under L, DELIVERY_MAX_IN_FLIGHT=64 (16 by default: at 1,000/s
the worker needs more sends under way to ride out short database stalls; at most these may repeat
after a crash) and DELIVERY_RETRY_SECONDS=1 (10 by default) so the retries' tail stays short.

Run alone: `python -m benches broadcast`.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert

from benches.harness import (
    PASSAPAROLA,
    cpu_seconds,
    fresh_database,
    launched,
    peak_rss_mib,
    polling,
    serving,
    wait_until,
)
from bot.playground.state import Fault, Playground
from storage.db import create_engine, create_sessionmaker, migrate
from storage.models import User

SIZES = (20_000, 100_000)
LIMIT = 1000  # L: sends per second the playground accepts
BOT_RATE = 980  # DELIVERY_RATE: just under L
IN_FLIGHT = 64  # DELIVERY_MAX_IN_FLIGHT: enough to ride out a short database stall at this rate
FAULT_PERCENT = 5.0
RETRY_SECONDS = 1  # DELIVERY_RETRY_SECONDS: a short backoff keeps the retry tail short
LOCALES = ("en", "ar", "it", "uk", "tr", "fa", "ps", "fr")
INSERT_CHUNK = 10_000
STEP_TIMEOUT_S = 60


@dataclass
class Result:
    """One run's numbers."""

    audience: int
    achieved: float  # send calls per second while first attempts were going out
    too_many: int  # 429s
    duplicates: int
    losses: int
    drain_seconds: float
    peak_rss_mib: float
    faults: int
    cpu_ms: float  # the bot process's CPU time per send call, Send now to final report


async def measure(size: int) -> Result:
    """One broadcast to `size` people; the bot in its own process."""
    playground = Playground(lean=True, seed=size)
    admin = playground.add_user("Sara (staff)", "en")
    people = [playground.add_user(f"p{i}", LOCALES[i % len(LOCALES)]) for i in range(size)]
    send_times = record_send_times(playground)
    async with fresh_database("SQLite") as database_url:
        await populate(database_url, admin, people)
        playground.rate.per_second = LIMIT
        gc.collect()
        gc.freeze()  # the 100k simulated users are not garbage: spare the collector from them
        env = {
            "DATABASE_URL": database_url,
            "ADMIN_IDS": str(admin["id"]),
            "DELIVERY_RATE": str(BOT_RATE),
            "DELIVERY_MAX_IN_FLIGHT": str(IN_FLIGHT),
            "DELIVERY_RETRY_SECONDS": str(RETRY_SECONDS),
            "LOG_LEVEL": "WARNING",
        }
        try:
            async with (
                serving(playground) as api,
                launched(f"broadcast {size}", PASSAPAROLA, playground, api, env) as bot,
            ):
                await until(lambda: polling(playground), "bot start", process=bot)
                await compose(playground, admin["id"])
                playground.faults.append(
                    Fault("5xx", method="sendmessage", count=10**9, percent=FAULT_PERCENT)
                )
                send_times.clear()
                cpu_before = cpu_seconds(bot.pid)
                started = time.monotonic()
                await press(playground, admin["id"], "Send now")
                await until(lambda: finished(playground, admin["id"]), "the final report",
                            timeout=size / BOT_RATE * 3 + 120, process=bot)  # fmt: skip
                drain = time.monotonic() - started
                rss = peak_rss_mib(bot.pid)
                cpu = cpu_seconds(bot.pid) - cpu_before
        finally:
            gc.unfreeze()
    received = [playground.received[person["id"]] for person in people]
    first_pass = sorted(send_times)[: size + 1]  # the admin is in the audience too
    return Result(
        audience=size,
        achieved=(len(first_pass) - 1) / (first_pass[-1] - first_pass[0]),
        too_many=playground.stats.errors.get(429, 0),
        duplicates=sum(count - 1 for count in received if count > 1),
        losses=received.count(0),
        drain_seconds=drain,
        peak_rss_mib=rss,
        faults=playground.stats.errors.get(502, 0),
        cpu_ms=cpu / len(send_times) * 1000,
    )


def record_send_times(playground: Playground) -> list[float]:
    """Note the time of every sendMessage call the bot makes (instrumentation for this bench)."""
    times: list[float] = []
    call = playground.call

    async def timed(method: str, params: dict[str, Any]) -> Any:
        if method.lower() == "sendmessage":
            times.append(time.monotonic())
        return await call(method, params)

    playground.call = timed  # type: ignore[method-assign]
    return times


async def populate(database_url: str, admin: dict[str, Any], people: list[dict[str, Any]]) -> None:
    """The bot's database: the admin and every person, all consented, each in their language."""
    engine = create_engine(database_url)
    await migrate(engine)
    now = datetime.now(UTC)
    rows = [
        {"channel": "telegram", "channel_user_id": str(person["id"]),
         "locale": person.get("language_code") or "en", "roles": [], "consented_at": now}
        for person in [admin, *people]
    ]  # fmt: skip
    async with create_sessionmaker(engine)() as session:
        for start in range(0, len(rows), INSERT_CHUNK):
            await session.execute(insert(User), rows[start : start + INSERT_CHUNK])
        await session.commit()
    await engine.dispose()


async def compose(playground: Playground, admin_id: int) -> None:
    """The admin writes the announcement and chooses everyone, in the chat."""
    await say(playground, admin_id, "/broadcast", expect="Write the announcement")
    await say(playground, admin_id, "Volunteers' Day is on Saturday, 10:00 at the library.",
              expect="version so far")  # fmt: skip
    await press(playground, admin_id, "Next: who gets it", expect="Who should get it")
    await press(playground, admin_id, "Everyone", expect="In total")


async def say(playground: Playground, user_id: int, text: str, *, expect: str) -> None:
    """Send text, then wait for a bot message containing `expect`."""
    seen = shown(playground, user_id)
    await playground.user_sends(user_id, text)
    await until(lambda: answered(playground, user_id, seen, expect), f"an answer to {text!r}")


async def press(playground: Playground, user_id: int, label: str, *, expect: str = "") -> None:
    """Press the newest button whose label contains `label`."""
    seen = shown(playground, user_id)
    found = [
        (message["message_id"], key["callback_data"])
        for message in playground.transcript(user_id)
        for row in message.get("reply_markup", {}).get("inline_keyboard", [])
        for key in row
        if label in key["text"]
    ]
    if not found:
        raise LookupError(f"no button {label!r}")
    message_id, data = found[-1]
    await playground.user_presses(user_id, message_id, data)
    if expect:
        await until(lambda: answered(playground, user_id, seen, expect), label)


def shown(playground: Playground, user_id: int) -> set[tuple[int, str]]:
    """What the chat shows now: (message id, text) pairs."""
    return {(m["message_id"], m.get("text", "")) for m in playground.transcript(user_id)}


def answered(playground: Playground, user_id: int, seen: set[tuple[int, str]], expect: str) -> bool:
    """A bot message sent or edited since `seen` contains `expect`."""
    return any(expect in text for text in {text for _, text in shown(playground, user_id) - seen})


def finished(playground: Playground, admin_id: int) -> bool:
    """The admin's progress message has become the final report."""
    return any("is finished" in message.get("text", "")
               for message in playground.transcript(admin_id))  # fmt: skip


async def until(
    condition: Callable[[], bool],
    what: str,
    timeout: float = STEP_TIMEOUT_S,
    process: asyncio.subprocess.Process | None = None,
) -> None:
    """wait_until with this benchmark's step timeout."""
    await wait_until(condition, what, timeout, process)


async def run(sizes: tuple[int, ...] = SIZES) -> list[str]:
    """Every audience size; the table and the verdicts."""
    results = [await measure(size) for size in sizes]
    lines = [
        f"### Broadcasts: {' and '.join(f'{size:,}' for size in sizes)} users, "
        f"L = {LIMIT:,}/s, {FAULT_PERCENT:g}% random 5xx",
        "",
        "The bot (`python -m bot run`, SQLite) in its own process; the playground enforces L and "
        "injects the faults. Achieved rate: send calls per second until there had been as many as "
        "recipients. Drain: Send now to final report, retries included.",
        "",
        "| audience | L | bot rate | in flight | achieved / L | 429s | 5xx | duplicates | "
        "losses | drain s | bot CPU ms/send | peak RSS MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        lines.append(
            f"| {result.audience:,} | {LIMIT:,} | {BOT_RATE:,} | {IN_FLIGHT} | "
            f"{result.achieved / LIMIT:.3f} | {result.too_many} | {result.faults:,} | "
            f"{result.duplicates} | {result.losses} | {result.drain_seconds:.0f} | "
            f"{result.cpu_ms:.2f} | {result.peak_rss_mib:.0f} |"
        )
    small, large = results[0], results[-1]
    growth = large.peak_rss_mib / small.peak_rss_mib
    worst = min(result.achieved for result in results) / LIMIT
    lines += [
        "",
        f"Achieved / L at worst **{worst:.3f}** (target ≥ 0.95); 429s "
        f"**{sum(r.too_many for r in results)}** (target 0); duplicates and losses "
        f"**{sum(r.duplicates + r.losses for r in results)}** (target 0); peak RSS "
        f"{large.audience:,} / {small.audience:,} = **{growth:.2f}×** (target ≤ 1.25×).",
    ]
    return lines
