"""Webhook mode: Telegram posts updates to us; one aiohttp server also answers health and metrics.

PTB's own webhook server (Tornado) cannot serve other paths, so the webhook is served here: a
request must carry the secret token given to setWebhook in `X-Telegram-Bot-Api-Secret-Token`, or
it is refused with 403 before its body is read. An accepted update goes to the Application's
update queue, exactly where PTB's own webhook server would put it.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Update
from telegram.error import BadRequest
from telegram.ext import Application

from bot.app import Runtime
from bot.monitoring import Monitoring, listening
from bot.settings import Settings

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookRefused(Exception):
    """Telegram (or the Bot API server) refused our setWebhook call."""


class WebhookReceiver:
    """Accepts updates that carry the secret and queues them for the Application."""

    def __init__(self, application: Application, secret: str) -> None:
        self.application = application
        self._secret = secret.encode()

    async def receive(self, request: web.Request) -> web.Response:
        """403 without the right secret, 400 for a body that is not an update, else 200."""
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            logger.info("webhook: refused a request without the right secret token")
            return web.json_response({"ok": False, "error": "forbidden"}, status=403)
        try:
            data = await request.json()
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("not an update")
            update = Update.de_json(data, self.application.bot)
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError, TypeError, KeyError):
            return web.json_response({"ok": False, "error": "not an update"}, status=400)
        await self.application.update_queue.put(update)
        return web.json_response({"ok": True})


def webhook_path(url: str) -> str:
    """The path we serve the webhook on: the path of WEBHOOK_URL ("/" if it has none)."""
    return urlsplit(url).path or "/"


def webhook_app(runtime: Runtime, url: str, secret: str) -> web.Application:
    """One aiohttp app: POST <path of url> for updates, GET /healthz and GET /metrics."""
    app = web.Application()
    app.router.add_post(webhook_path(url), WebhookReceiver(runtime.application, secret).receive)
    Monitoring(runtime.engine, runtime.metrics, role="webhook").install(app)
    return app


@asynccontextmanager
async def serving_webhook(
    runtime: Runtime, settings: Settings, secret: str
) -> AsyncIterator[Application]:
    """Listen, start the Application, then ask Telegram to post updates to WEBHOOK_URL.

    The port is taken first, so a port in use is reported before anything else happens. On
    the way out the server stops taking updates before the Application stops, and the webhook
    stays set: Telegram keeps the updates that arrive meanwhile until the bot is back.
    """
    url = settings.require_webhook_url()
    application = runtime.application
    app = webhook_app(runtime, url, secret)
    host, port = settings.webhook_listen, settings.webhook_port
    async with listening(app, host, port, "WEBHOOK_PORT") as runner:
        await application.initialize()
        try:
            if application.post_init is not None:
                await application.post_init(application)
            await application.start()
            try:
                await set_webhook(application, url, secret)
                logger.info("webhook: listening on %s:%d at %s", host, port, webhook_path(url))
                yield application
            finally:
                for site in list(runner.sites):  # no more updates into a stopping Application
                    await site.stop()
                await application.stop()
        finally:
            await application.shutdown()
            if application.post_shutdown is not None:
                await application.post_shutdown(application)


async def set_webhook(application: Application, url: str, secret: str) -> None:
    """Point Telegram at `url`; WebhookRefused with Telegram's reason if it says no."""
    try:
        await application.bot.set_webhook(
            url, secret_token=secret, allowed_updates=Update.ALL_TYPES
        )
    except BadRequest as error:
        raise WebhookRefused(f"Telegram refused WEBHOOK_URL {url}: {error.message}") from None
