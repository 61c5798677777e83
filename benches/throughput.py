"""Update throughput: Passaparola against a bare PTB echo bot, on the same playground, same run.

1,000 simulated users each send /start, pick a language, agree to the privacy notice and open
Settings from the menu: 4,000 updates, fired phase by phase as fast as the bot takes them
(throughput at saturation). Then 250 more users do the same at a steady 50 updates/s, and the
playground measures latency: from an update being queued to the first message the bot sends or
edits in that chat. Each bot runs in its own process (`python -m bot run` for Passaparola),
polling an in-process playground over HTTP.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from bot.i18n import SHIPPED_LOCALES
from bot.playground.server import create_app
from bot.playground.state import Playground

ROOT = Path(__file__).resolve().parent.parent
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


async def measure(name: str, command: list[str], env: dict[str, str]) -> Result:
    """Start a bot process against a fresh playground and drive 1,000 users through it."""
    playground = Playground()
    runner = web.AppRunner(create_app(playground), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    log = ROOT / "benches" / "out" / f"{name.split()[0].lower()}.log"
    log.parent.mkdir(exist_ok=True)
    with log.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=ROOT,
            env={**os.environ, **env, "BOT_TOKEN": playground.token,
                 "BOT_API_URL": f"http://{host}:{port}"},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log_file,
        )  # fmt: skip
        try:
            await wait_until(lambda: playground.stats.calls.get("getupdates", 0) > 0, "bot start")
            started, cpu_before = time.perf_counter(), cpu_seconds(process.pid)
            await onboard_everyone(playground, USERS, pace=None)
            elapsed, cpu = time.perf_counter() - started, cpu_seconds(process.pid) - cpu_before
            playground.stats.latencies.clear()
            await onboard_everyone(playground, PACED_USERS, pace=PACED_RATE)
            rss = peak_rss_mib(process.pid)
        finally:
            process.terminate()
            await process.wait()
            await runner.cleanup()
    if process.returncode not in (0, -15):
        raise RuntimeError(f"{name} exited with {process.returncode}; see {log}")
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
    await wait_until(lambda: len(playground.stats.latencies) >= expected, "answers")


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll a condition, failing after PHASE_TIMEOUT_S."""
    deadline = time.monotonic() + PHASE_TIMEOUT_S
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run() -> list[str]:
    """Measure both bots, alternating, ROUNDS times; report the median round of each."""
    rounds: dict[str, list[Result]] = {}
    for _ in range(ROUNDS):
        with tempfile.TemporaryDirectory() as folder:
            ours = await measure(
                "Passaparola (SQLite)",
                [sys.executable, "-m", "bot", "run"],
                {"DATABASE_URL": f"sqlite+aiosqlite:///{folder}/bench.db", "REPLY_RATE": "0",
                 "LOG_LEVEL": "WARNING"},
            )  # fmt: skip
        echo = await measure("bare PTB echo bot", [sys.executable, "-m", "benches.echo_bot"], {})
        for result in (ours, echo):
            rounds.setdefault(result.name, []).append(result)
    passaparola, baseline = (
        sorted(results, key=lambda r: r.per_second)[len(results) // 2]
        for results in rounds.values()
    )
    lines = [
        f"### Update throughput: {USERS:,} users, {STEPS * USERS:,} updates (/start, language, "
        "consent, menu)",
        "",
        f"Throughput at saturation; latency at a steady {PACED_RATE} updates/s "
        f"({PACED_USERS} more users). Median of {ROUNDS} alternating rounds; "
        "all rounds' updates/s in the last column.",
        "",
        "| bot | updates/s | CPU ms/update | p50 ms | p99 ms | peak RSS MiB | rounds (updates/s) |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for result in (passaparola, baseline):
        every = ", ".join(f"{r.per_second:.0f}" for r in rounds[result.name])
        lines.append(
            f"| {result.name} | {result.per_second:,.0f} | {result.cpu_ms_per_update:.1f} | "
            f"{result.percentile(50):.1f} | "
            f"{result.percentile(99):.1f} | {result.peak_rss_mib:.0f} | {every} |"
        )
    ratio = passaparola.per_second / baseline.per_second
    lines += ["", f"Throughput ratio Passaparola / echo bot: **{ratio:.2f}** (target ≥ 0.5); "
              f"Passaparola p99 {passaparola.percentile(99):.1f} ms (target < 50 ms)."]  # fmt: skip
    return lines
