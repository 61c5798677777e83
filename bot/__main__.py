"""Command line: `python -m bot run` or `webhook` (real Telegram), `demo` (playground)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import signal
import sys
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path

from sqlalchemy.exc import DBAPIError
from telegram.error import InvalidToken, NetworkError

from bot.app import Runtime, build_application, build_runtime, polling
from bot.content import ContentError, ImportReport, import_pack, load_pack, progress_bar
from bot.i18n import CatalogError
from bot.logs import configure_logging
from bot.monitoring import ListenError, listening, monitoring_app
from bot.playground.server import create_app
from bot.playground.state import Playground
from bot.settings import ConfigError, Settings, load_settings
from bot.webhook import WebhookRefused, serving_webhook
from bot.workers import delivery_processes
from storage.db import create_engine, create_sessionmaker, migrate
from storage.opportunities import OpportunityRepository
from storage.users import UserRepository

logger = logging.getLogger("bot")

DEMO_DATABASE = Path("data/demo.db")
DEMO_CONTENT = Path(__file__).resolve().parent.parent / "content" / "cesena.yaml"
DEMO_ADMIN_NAME = "Sara (city staff)"
DEMO_COORDINATOR_NAME = "Luca (coordinator)"
DEMO_ORGANISATION = "casa-colori"
DEMO_USERS = (
    ("Amina", "ar"),
    ("Mehmet", "tr"),
    ("Rojda", "ku"),
    ("Giulia", "it"),
    ("Oksana", "uk"),
    ("Sam", None),
)


class UsageError(Exception):
    """Something the person running the command can fix; printed without a traceback."""


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen command."""
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="poll Telegram with BOT_TOKEN")
    webhook_parser = commands.add_parser(
        "webhook", help="let Telegram post updates to WEBHOOK_URL (serves /healthz and /metrics)"
    )
    webhook_parser.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        metavar="N",
        help="processes draining the delivery queue, this one included (default 1)",
    )
    content_parser = commands.add_parser("content", help="manage content packs")
    content_commands = content_parser.add_subparsers(dest="action", required=True)
    import_parser = content_commands.add_parser(
        "import", help="validate a YAML or CSV content file, then import all of it"
    )
    import_parser.add_argument("file", type=Path)
    demo_parser = commands.add_parser("demo", help="playground + browser chat page, no token")
    demo_parser.add_argument("--host", default="127.0.0.1")
    demo_parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings.log_level)
        if args.command == "run":
            run(settings)
        elif args.command == "webhook":
            webhook(settings, args.workers)
        elif args.command == "content":
            asyncio.run(import_content(settings, args.file))
        else:
            asyncio.run(demo(settings, args.host, args.port))
    except (ConfigError, CatalogError, UsageError, ContentError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def positive_int(value: str) -> int:
    """An argparse type: a whole number of at least 1."""
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value!r}")
    return int(value)


def run(settings: Settings) -> None:
    """Poll Telegram until interrupted; /healthz and /metrics on METRICS_PORT if it is set."""
    token = settings.require_token()
    runtime = build(settings, token)
    asyncio.run(run_polling(runtime, settings))


async def run_polling(runtime: Runtime, settings: Settings) -> None:
    """Poll until SIGINT or SIGTERM."""
    stop = stop_on_signals()
    with startup_errors(settings):
        async with AsyncExitStack() as running:
            if settings.metrics_port is not None:
                app = monitoring_app(runtime.engine, runtime.metrics, role="polling")
                await running.enter_async_context(
                    listening(app, settings.metrics_listen, settings.metrics_port, "METRICS_PORT")
                )
            await running.enter_async_context(polling(runtime.application))
            await stop.wait()


def webhook(settings: Settings, workers: int) -> None:
    """Serve Telegram's webhook until interrupted, with `workers` processes sending the queue."""
    token = settings.require_token()
    settings.require_webhook_url()
    runtime = build(settings, token, delivery_processes=workers)
    # Unset, a fresh random secret at each start: setWebhook tells Telegram the new one.
    secret = settings.webhook_secret or secrets.token_urlsafe(32)
    asyncio.run(run_webhook(runtime, settings, token, secret, workers))


async def run_webhook(
    runtime: Runtime, settings: Settings, token: str, secret: str, workers: int
) -> None:
    """The webhook server, then the other delivery workers, until SIGINT or SIGTERM."""
    stop = stop_on_signals()
    with startup_errors(settings):
        async with (
            serving_webhook(runtime, settings, secret),
            delivery_processes(settings, token, workers),
        ):
            await stop.wait()
            logger.info("stopping")


def build(settings: Settings, token: str, *, delivery_processes: int = 1) -> Runtime:
    """build_runtime, with a database that cannot be created explained in one sentence."""
    try:
        return build_runtime(settings, token, delivery_processes=delivery_processes)
    except OSError as error:
        raise UsageError(f"cannot create the database at DATABASE_URL: {error}") from None


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM (call inside the running loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


@contextmanager
def startup_errors(settings: Settings) -> Iterator[None]:
    """Turn what can go wrong while starting into one sentence for the person running it."""
    try:
        yield
    except (ListenError, WebhookRefused) as error:
        raise UsageError(str(error)) from None
    except InvalidToken:
        raise UsageError("Telegram rejected BOT_TOKEN; check it with @BotFather") from None
    except NetworkError as error:
        raise UsageError(f"cannot reach the Bot API at {settings.bot_api_url}: {error}") from None
    except (DBAPIError, OSError) as error:
        raise UsageError(f"cannot open the database at DATABASE_URL: {error}") from None


async def demo(settings: Settings, host: str, port: int) -> None:
    """The playground, a fresh demo database, and the real bot polling it over HTTP."""
    playground = Playground()
    admin = playground.add_user(DEMO_ADMIN_NAME, "en")
    for name, language_code in DEMO_USERS:
        playground.add_user(name, language_code)
    coordinator = playground.add_user(DEMO_COORDINATOR_NAME, "it")

    try:
        async with listening(create_app(playground), host, port, "--port"):
            await run_demo(settings, playground, host, port, admin["id"], coordinator["id"])
    except ListenError as error:
        raise UsageError(str(error)) from None


async def run_demo(
    settings: Settings, playground: Playground, host: str, port: int, admin: int, coordinator: int
) -> None:
    """Seed a fresh demo database and run the bot against the listening playground."""
    fresh_demo_database()
    demo_settings = settings.model_copy(
        update={
            "bot_api_url": f"http://{host}:{port}",
            "database_url": f"sqlite+aiosqlite:///{DEMO_DATABASE}",
            "admin_ids": frozenset({admin}),
        }
    )
    await seed_demo(demo_settings, coordinator)
    stop = stop_on_signals()
    async with polling(build_application(demo_settings, playground.token)):
        print(
            f"\nPassaparola demo is running. Open http://{host}:{port}/ in your browser.\n"
            f"Chat as several people, pick languages, press buttons. Ctrl+C stops it.\n",
            flush=True,
        )
        await stop.wait()


async def import_content(settings: Settings, path: Path) -> ImportReport:
    """Validate the whole file, then import it in one transaction; prints what changed."""
    pack = load_pack(path)
    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
        async with create_sessionmaker(engine)() as session:
            report = await import_pack(session, pack, progress_bar)
            await session.commit()
    except (DBAPIError, OSError) as error:
        raise UsageError(f"cannot open the database at DATABASE_URL: {error}") from None
    finally:
        await engine.dispose()
    print(
        f"{path}: {report.created} opportunities added, {report.updated} updated, "
        f"{len(report.published)} newly published."
    )
    return report


async def seed_demo(settings: Settings, coordinator_id: int) -> None:
    """The demo city's content, and one demo person who coordinates an organisation."""
    await import_content(settings, DEMO_CONTENT)
    engine = create_engine(settings.database_url)
    async with create_sessionmaker(engine)() as session:
        users = UserRepository(session)
        coordinator = await users.create("telegram", str(coordinator_id), "it")
        await users.give_consent(coordinator)
        await users.grant_role(coordinator, "coordinator")
        coordinator.organisation_id = await OpportunityRepository(session).organisation_id(
            DEMO_ORGANISATION
        )
        await session.commit()
    await engine.dispose()


def fresh_demo_database() -> None:
    """Each demo starts with nobody in the database."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{DEMO_DATABASE}{suffix}").unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
