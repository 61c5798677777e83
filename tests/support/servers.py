"""The playground on a free loopback port, and the real bot polling it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web
from telegram.ext import Application

from bot.app import build_application, polling
from bot.playground.server import create_app
from bot.playground.state import Playground
from bot.settings import Settings


@dataclass
class RunningPlayground:
    """A playground and the base URL it answers on."""

    playground: Playground
    url: str


@asynccontextmanager
async def serve_playground(
    playground: Playground | None = None,
) -> AsyncIterator[RunningPlayground]:
    """Serve a playground over real HTTP on 127.0.0.1 (a free port)."""
    playground = playground or Playground()
    runner = web.AppRunner(create_app(playground), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield RunningPlayground(playground, f"http://{host}:{port}")
    finally:
        await runner.cleanup()


@asynccontextmanager
async def run_bot(settings: Settings, served: RunningPlayground) -> AsyncIterator[Application]:
    """The real PTB Application, polling the playground over HTTP."""
    bot_settings = settings.model_copy(update={"bot_api_url": served.url})
    application = build_application(bot_settings, served.playground.token)
    async with polling(application, poll_timeout=1):
        yield application
