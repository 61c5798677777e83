"""The composition root: settings, engine, catalogs, conversation, delivery worker, PTB app."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from telegram import BotCommand, Update
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder

from bot.broadcasts import BroadcastService
from bot.channels.bot_api import AiohttpRequest
from bot.channels.telegram import CHANNEL, PerChatUpdateProcessor, TelegramChannel, TelegramSender
from bot.conversation import Conversation
from bot.delivery import DeliveryPolicy, DeliveryWorker
from bot.housekeeping import expire_opportunities, purge_inactive_users, purge_relayed_questions
from bot.i18n import ISO_639_1_LOCALES, Catalog, Translator
from bot.metrics import Metrics
from bot.settings import Settings
from handlers.help import command_descriptions
from storage.db import create_engine, create_sessionmaker, migrate

logger = logging.getLogger(__name__)

MAX_CONCURRENT_UPDATES = 8  # measured in benches/: more concurrency costs more than it gains
MAX_RETRIES_ON_429 = 5  # each retry first waits the retry_after Telegram asked for


@dataclass(frozen=True)
class Runtime:
    """A built bot: its PTB Application, its database engine and its metrics."""

    application: Application
    engine: AsyncEngine
    metrics: Metrics


def build_application(settings: Settings, token: str) -> Application:
    """Wire everything together; resources open in post_init and close in post_shutdown."""
    return build_runtime(settings, token).application


def build_runtime(settings: Settings, token: str, *, delivery_processes: int = 1) -> Runtime:
    """Like build_application, keeping hold of the engine and the metrics.

    `delivery_processes` is how many processes drain the delivery queue in all, this one
    included: each sends at its share of DELIVERY_RATE, so together they keep to it.
    """
    catalog = Catalog(settings.default_locale)
    engine = create_engine(settings.database_url)
    sessionmaker = create_sessionmaker(engine)
    metrics = Metrics()
    conversation = Conversation(settings, catalog, sessionmaker, metrics)
    sender = delivery_sender(settings, token)
    deliveries = build_delivery_worker(
        settings, sessionmaker, catalog, sender, metrics, processes=delivery_processes
    )
    for job in (
        expire_opportunities,
        purge_inactive_users(settings.retention_days),
        purge_relayed_questions,
    ):
        deliveries.add_housekeeping(job)
    broadcasts = BroadcastService(
        sessionmaker,
        catalog,
        sender.send,
        sender.edit,
        zone=settings.zone,
        wake_sender=deliveries.wake,
    )

    async def post_init(application: Application) -> None:
        await migrate(engine)
        await sender.initialize()
        deliveries.start()
        broadcasts.start()
        await publish_commands(application, catalog)
        # What start-up built (modules, catalogs, mappers) lives as long as the process: keep it
        # out of the garbage collector's full passes, which otherwise stall sending (benches/).
        gc.collect()
        gc.freeze()
        logger.info("Passaparola is up as @%s", application.bot.username)

    async def post_shutdown(application: Application) -> None:
        await broadcasts.stop()
        await deliveries.stop()
        await sender.shutdown()
        await engine.dispose()

    rate_limiter = AIORateLimiter(
        overall_max_rate=settings.reply_rate, overall_time_period=1, max_retries=MAX_RETRIES_ON_429
    )
    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{settings.bot_api_url}/bot")
        .base_file_url(f"{settings.bot_api_url}/file/bot")
        .rate_limiter(rate_limiter)
        .request(AiohttpRequest(MAX_CONCURRENT_UPDATES * 2))  # httpx costs ~10x the CPU per call
        .get_updates_request(AiohttpRequest(1))
        .concurrent_updates(PerChatUpdateProcessor(max_running=MAX_CONCURRENT_UPDATES))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    TelegramChannel(conversation, metrics).install(application)
    return Runtime(application, engine, metrics)


def delivery_sender(settings: Settings, token: str) -> TelegramSender:
    """The delivery queue's own Bot API sender, with a connection for every send in flight."""
    return TelegramSender(token, settings.bot_api_url, settings.delivery_max_in_flight + 2)


def build_delivery_worker(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    catalog: Catalog,
    sender: TelegramSender,
    metrics: Metrics,
    *,
    processes: int = 1,
) -> DeliveryWorker:
    """A delivery worker sending at its share of DELIVERY_RATE among `processes` workers."""
    return DeliveryWorker(
        sessionmaker,
        catalog,
        sender.send,
        channel=CHANNEL,
        policy=DeliveryPolicy(
            rate=settings.delivery_rate / processes,
            batch_size=max(DeliveryPolicy.batch_size, 2 * settings.delivery_max_in_flight),
            max_in_flight=settings.delivery_max_in_flight,
            retry_backoff=timedelta(seconds=settings.delivery_retry_seconds),
        ),
        observer=metrics,
    )


async def publish_commands(application: Application, catalog: Catalog) -> None:
    """The command menu in the default language, and in every language Telegram can tag."""
    default = catalog.translator(None)
    await application.bot.set_my_commands(_commands(default))
    for code in sorted(ISO_639_1_LOCALES):  # the others get a chat-scoped list when chosen
        await application.bot.set_my_commands(
            _commands(catalog.translator(code)), language_code=code
        )


def _commands(translator: Translator) -> list[BotCommand]:
    return [BotCommand(name, text) for name, text in command_descriptions(translator)]


@asynccontextmanager
async def polling(application: Application, poll_timeout: int = 10) -> AsyncIterator[Application]:
    """Run `application` polling inside the caller's event loop (demo, tests, benchmarks)."""
    await application.initialize()
    try:
        if application.post_init is not None:
            await application.post_init(application)
        assert application.updater is not None
        await application.updater.start_polling(
            poll_interval=0, timeout=poll_timeout, allowed_updates=Update.ALL_TYPES
        )
        await application.start()
        try:
            yield application
        finally:
            await application.updater.stop()
            await application.stop()
    finally:
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)
