"""What the benchmarks share: a playground on 127.0.0.1, a bot process polling it, databases.

PostgreSQL benchmarks create a fresh database (passaparola_bench_<hex>) on the server named by
BENCH_DATABASE_URL (default: postgres@127.0.0.1:5432, trust auth) and drop it afterwards.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bot.playground.server import create_app
from bot.playground.state import Playground

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benches" / "out"
PASSAPAROLA = (sys.executable, "-m", "bot", "run")
ECHO_BOT = (sys.executable, "-m", "benches.echo_bot")
POSTGRES_SERVER = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
DATABASES = ("SQLite", "PostgreSQL")

Process = asyncio.subprocess.Process


@asynccontextmanager
async def serving(playground: Playground) -> AsyncIterator[str]:
    """The playground's Bot API on a free port of 127.0.0.1; yields its base URL.

    Leaving cancels what is still being served at once: the stopped bot's last long poll would
    otherwise hold the server open for its whole timeout.
    """
    runner = web.AppRunner(create_app(playground), access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def launched(
    name: str, command: tuple[str, ...], playground: Playground, api: str, env: dict[str, str]
) -> AsyncIterator[Process]:
    """A bot process polling the playground at `api`, stopped (SIGTERM) on leaving.

    Its stderr goes to benches/out/<name>.log; a crash is an error that names that file.
    """
    log = OUT / f"{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}.log"
    log.parent.mkdir(exist_ok=True)
    with log.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=ROOT,
            env={**os.environ, **env, "BOT_TOKEN": playground.token, "BOT_API_URL": api},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log_file,
        )
        try:
            yield process
        finally:
            if process.returncode is None:
                process.terminate()
            await process.wait()
    if process.returncode not in (0, -15):
        raise RuntimeError(f"{name} exited with {process.returncode}; see {log}")


async def wait_until(
    condition: Callable[[], object], what: str, timeout: float, process: Process | None = None
) -> None:
    """Poll a condition every 10 ms; fail after `timeout` seconds, or at once if `process` died."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.returncode is not None:
            raise RuntimeError(f"the bot exited with {process.returncode} before {what}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def polling(playground: Playground) -> bool:
    """True once the bot has asked for updates: it has started."""
    return playground.stats.calls.get("getupdates", 0) > 0


@asynccontextmanager
async def fresh_database(kind: str) -> AsyncIterator[str]:
    """A new, empty SQLite file or PostgreSQL database, removed afterwards; yields its URL."""
    if kind == "SQLite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite+aiosqlite:///{folder}/bench.db"
        return
    name = f"passaparola_bench_{secrets.token_hex(6)}"
    server = create_async_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with server.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(POSTGRES_SERVER).set(database=name).render_as_string(False)
        finally:
            async with server.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await server.dispose()


async def available_databases() -> tuple[list[str], list[str]]:
    """The databases this machine can benchmark, and a note for each one it cannot."""
    server = create_async_engine(POSTGRES_SERVER, poolclass=NullPool)
    try:
        async with server.connect():
            return list(DATABASES), []
    except OSError as error:  # nothing listens there; a wrong role or password is an error
        where = make_url(POSTGRES_SERVER).render_as_string()
        return ["SQLite"], [f"PostgreSQL not measured: no server at {where} ({error})."]
    finally:
        await server.dispose()


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
