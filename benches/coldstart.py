"""Cold start: from launching the bot to its first answer, against the bare PTB echo bot.

A new user's /start is queued in a fresh playground, then the bot process is launched at once
(`python -m bot run` for Passaparola). Measured: from the /start being queued to the first
message the bot sends in that chat, so imports, settings, catalogs, the database connection,
migrations, the first getUpdates and the first turn all count. *Cold*: a fresh, empty database,
so every migration runs; *warm*: the same, but migrated beforehand (as after a restart). Each
case runs REPETITIONS times, the cases alternating; the table shows the median and every run.
Run alone: `python -m benches coldstart`.
"""

from __future__ import annotations

import statistics

from benches.harness import (
    ECHO_BOT,
    PASSAPAROLA,
    available_databases,
    fresh_database,
    launched,
    serving,
    wait_until,
)
from bot.playground.state import Playground
from storage.db import create_engine, migrate

REPETITIONS = 7
COLD, WARM = "cold: migrations run", "warm: already migrated"
ECHO = ("bare PTB echo bot", "–")
TIMEOUT_S = 60


async def measure(name: str, command: tuple[str, ...], env: dict[str, str]) -> float:
    """Seconds from a /start queued right at launch to the bot's first answer."""
    playground = Playground()
    user = playground.add_user("Amina", "ar")
    async with serving(playground) as api:
        await playground.user_sends(user["id"], "/start")
        async with launched(name, command, playground, api, env) as bot:
            await wait_until(lambda: playground.stats.latencies, "the first answer", TIMEOUT_S, bot)
    return playground.stats.latencies[0]


async def passaparola(database: str, warm: bool) -> float:
    """One Passaparola start on a fresh database, migrated beforehand if `warm`."""
    name = f"coldstart Passaparola {database} {'warm' if warm else 'cold'}"
    async with fresh_database(database) as url:
        if warm:
            engine = create_engine(url)
            await migrate(engine)
            await engine.dispose()
        return await measure(name, PASSAPAROLA, {"DATABASE_URL": url, "LOG_LEVEL": "WARNING"})


async def run() -> list[str]:
    """Every case REPETITIONS times, alternating; the median of each."""
    databases, notes = await available_databases()
    cases = [(database, warm) for database in databases for warm in (False, True)]
    runs: dict[tuple[str, str], list[float]] = {}
    for _ in range(REPETITIONS):
        for database, warm in cases:
            key = (f"Passaparola ({database})", WARM if warm else COLD)
            runs.setdefault(key, []).append(await passaparola(database, warm))
        runs.setdefault(ECHO, []).append(await measure("coldstart echo bot", ECHO_BOT, {}))
    median = {key: statistics.median(values) for key, values in runs.items()}
    lines = [
        "### Cold start: launch to the first answered /start",
        "",
        "A /start queued right at launch; seconds until the bot's first message in that chat. "
        "Cold: a fresh database, so every migration runs; warm: migrated beforehand. "
        f"Median of {REPETITIONS} alternating runs; every run in the last column.",
        "",
        "| bot | start | median s | × echo bot | runs (s) |",
        "|---|---|---:|---:|---|",
    ]
    for (bot, start), values in runs.items():
        every = ", ".join(f"{value:.2f}" for value in values)
        lines.append(
            f"| {bot} | {start} | {median[bot, start]:.2f} | "
            f"{median[bot, start] / median[ECHO]:.1f} | {every} |"
        )
    lines.append("")
    for database in databases:
        bot = f"Passaparola ({database})"
        extra = median[bot, COLD] - median[bot, WARM]
        lines.append(f"- {bot}: migrations add {extra:.2f} s to the first answer.")
    return lines + [f"- {note}" for note in notes]
