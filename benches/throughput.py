"""Update throughput: Passaparola against a bare PTB echo bot, on the same playground, same run.

1,000 simulated users each send /start, pick a language, agree to the privacy notice and open
Settings from the menu: 4,000 updates, fired phase by phase as fast as the bot takes them
(throughput at saturation). Then 250 more users do the same at a steady 50 updates/s, and the
playground measures latency: from an update being queued to the first message the bot sends or
edits in that chat. Each bot runs in its own process (`python -m bot run` for Passaparola, on
a fresh SQLite file and on a fresh PostgreSQL database), polling an in-process playground over
HTTP. Run alone: `python -m benches throughput`.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass

from benches.harness import (
    ECHO_BOT,
    PASSAPAROLA,
    available_databases,
    cpu_seconds,
    fresh_database,
    launched,
    peak_rss_mib,
    polling,
    serving,
    wait_until,
)
from bot.i18n import SHIPPED_LOCALES
from bot.playground.state import Playground

USERS = 1000
PACED_USERS = 250
PACED_RATE = 50  # updates per second, well below saturation
PHASE_TIMEOUT_S = 300
STEPS = 4  # /start, language, consent, settings
ROUNDS = 3


@dataclass
class Result:
    """One bot's numbers."""

    name: str
    updates: int
    seconds: float
    cpu_seconds: float
    latencies: list[float]
    peak_rss_mib: float

    @property
    def per_second(self) -> float:
        """Updates answered per second."""
        return self.updates / self.seconds

    @property
    def cpu_ms_per_update(self) -> float:
        """The bot process's CPU time (all threads) per update, in milliseconds."""
        return self.cpu_seconds / self.updates * 1000

    def percentile(self, q: int) -> float:
        """Latency percentile in milliseconds."""
        return statistics.quantiles(self.latencies, n=100)[q - 1] * 1000


async def measure(name: str, command: tuple[str, ...], env: dict[str, str]) -> Result:
    """Start a bot process against a fresh playground and drive 1,000 users through it."""
    playground = Playground()
    async with serving(playground) as api, launched(name, command, playground, api, env) as bot:
        await wait_until(lambda: polling(playground), "bot start", PHASE_TIMEOUT_S, bot)
        started, cpu_before = time.perf_counter(), cpu_seconds(bot.pid)
        await onboard_everyone(playground, USERS, pace=None)
        elapsed, cpu = time.perf_counter() - started, cpu_seconds(bot.pid) - cpu_before
        playground.stats.latencies.clear()
        await onboard_everyone(playground, PACED_USERS, pace=PACED_RATE)
        rss = peak_rss_mib(bot.pid)
    return Result(name, STEPS * USERS, elapsed, cpu, playground.stats.latencies, rss)


async def onboard_everyone(playground: Playground, count: int, pace: float | None) -> None:
    """New users go through /start, language, consent and Settings, one phase at a time."""
    users = [playground.add_user(f"user{i}", SHIPPED_LOCALES[i % len(SHIPPED_LOCALES)])
             for i in range(count)]  # fmt: skip
    await phase(
        playground, [lambda u=u: playground.user_sends(u["id"], "/start") for u in users], pace
    )
    for data in ("lang:set:{}", "consent:yes", "menu:settings"):
        actions = [lambda u=u, d=data: press(playground, u, d.format(u["language_code"]))
                   for u in users]  # fmt: skip
        await phase(playground, actions, pace)


async def press(playground: Playground, user: dict, data: str) -> None:
    """Press `data` on the newest message in the user's chat."""
    newest = max(playground.messages[user["id"]])
    await playground.user_presses(user["id"], newest, data)


async def phase(playground: Playground, actions: list, pace: float | None) -> None:
    """Run every action (at `pace` per second if given), then wait for all first answers."""
    expected = len(playground.stats.latencies) + len(actions)
    start = time.perf_counter()
    for index, action in enumerate(actions):
        if pace:
            await asyncio.sleep(max(0.0, start + index / pace - time.perf_counter()))
        await action()
    await wait_until(
        lambda: len(playground.stats.latencies) >= expected, "answers", PHASE_TIMEOUT_S
    )


async def run() -> list[str]:
    """Measure every bot, one after the other, ROUNDS times; report medians and ratios."""
    databases, notes = await available_databases()
    echo = "bare PTB echo bot"
    rounds: dict[str, list[Result]] = {}
    for _ in range(ROUNDS):
        for database in databases:
            async with fresh_database(database) as url:
                result = await measure(
                    f"Passaparola ({database})",
                    PASSAPAROLA,
                    {"DATABASE_URL": url, "REPLY_RATE": "0", "LOG_LEVEL": "WARNING"},
                )
            rounds.setdefault(result.name, []).append(result)
        rounds.setdefault(echo, []).append(await measure(echo, ECHO_BOT, {}))
    median = {
        name: sorted(results, key=lambda r: r.per_second)[len(results) // 2]
        for name, results in rounds.items()
    }
    lines = [
        f"### Update throughput: {USERS:,} users, {STEPS * USERS:,} updates (/start, language, "
        "consent, menu)",
        "",
        f"Throughput at saturation; latency at a steady {PACED_RATE} updates/s "
        f"({PACED_USERS} more users). Median of {ROUNDS} rounds; in each round every bot runs "
        "once, one after the other; all rounds' updates/s in the last column.",
        "",
        "| bot | updates/s | CPU ms/update | p50 ms | p99 ms | peak RSS MiB | rounds (updates/s) |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, result in median.items():
        every = ", ".join(f"{r.per_second:.0f}" for r in rounds[name])
        lines.append(
            f"| {name} | {result.per_second:,.0f} | {result.cpu_ms_per_update:.1f} | "
            f"{result.percentile(50):.1f} | "
            f"{result.percentile(99):.1f} | {result.peak_rss_mib:.0f} | {every} |"
        )
    lines += [
        "",
        "Ratio to the echo bot: the machine's speed drifts between rounds, so each round's "
        "Passaparola is compared with that round's echo bot, and the median of those ratios "
        "is the result.",
        "",
    ]
    for name, results in rounds.items():
        if name != echo:
            pairs = zip(results, rounds[echo], strict=True)
            ratios = [ours.per_second / theirs.per_second for ours, theirs in pairs]
            every = ", ".join(f"{ratio:.2f}" for ratio in ratios)
            p99 = median[name].percentile(99)
            lines.append(
                f"- {name} / echo bot throughput: **{statistics.median(ratios):.2f}** "
                f"(target ≥ 0.5; rounds: {every}); p99 {p99:.1f} ms (target < 50 ms)."
            )
    return lines + [f"- {note}" for note in notes]
