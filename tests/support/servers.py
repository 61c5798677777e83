"""The playground on a free loopback port, and the real bot polling it or taking its webhook."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web
from telegram.ext import Application

from bot.app import Runtime, build_application, build_runtime, polling
from bot.playground.server import create_app
from bot.playground.state import Playground
from bot.settings import Settings
from bot.webhook import serving_webhook


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


@dataclass
class RunningWebhook:
    """The real bot taking updates on its webhook server."""

    runtime: Runtime
    url: str  # the server's base URL: the webhook is at /telegram, and /healthz, /metrics
    secret: str

    @property
    def webhook_url(self) -> str:
        """Where Telegram (the playground) posts updates."""
        return f"{self.url}/telegram"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def run_webhook_bot(
    settings: Settings, served: RunningPlayground, secret: str = "test-webhook-secret"
) -> AsyncIterator[RunningWebhook]:
    """The real PTB Application behind its webhook server; the playground posts updates to it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    bot_settings = settings.model_copy(
        update={
            "bot_api_url": served.url,
            "webhook_url": f"{url}/telegram",
            "webhook_port": port,
            "webhook_secret": secret,
        }
    )
    runtime = build_runtime(bot_settings, served.playground.token)
    async with serving_webhook(runtime, bot_settings, secret):
        yield RunningWebhook(runtime, url, secret)
