"""Fixtures: settings on a temporary SQLite file, the conversation core, playground and bot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram.ext import Application

from bot.conversation import Conversation
from bot.i18n import Catalog
from bot.playground.client import PlaygroundClient
from bot.settings import Settings, load_settings
from storage.db import create_engine, create_sessionmaker, migrate
from tests.support.servers import RunningPlayground, run_bot, serve_playground

ADMIN_ID = 4242


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings isolated from the developer's .env, with a fresh SQLite file."""
    return load_settings(
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'test.db'}",
        admin_ids=str(ADMIN_ID),
        default_locale="en",
        flood_max_updates=0,  # tests drive people faster than anyone types; test_flood turns it on
    )


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    """Every compiled catalog."""
    return Catalog("en")


@pytest.fixture
async def conversation(settings: Settings, catalog: Catalog) -> AsyncIterator[Conversation]:
    """The channel-neutral core on a migrated database."""
    engine = create_engine(settings.database_url)
    await migrate(engine)
    yield Conversation(settings, catalog, create_sessionmaker(engine))
    await engine.dispose()


@pytest.fixture
async def served() -> AsyncIterator[RunningPlayground]:
    """The playground over HTTP."""
    async with serve_playground() as running:
        yield running


@pytest.fixture
async def bot(settings: Settings, served: RunningPlayground) -> AsyncIterator[Application]:
    """The real bot polling the playground."""
    async with run_bot(settings, served) as application:
        yield application


@pytest.fixture
async def client(served: RunningPlayground) -> AsyncIterator[PlaygroundClient]:
    """Simulated users' access to the playground."""
    client = PlaygroundClient(served.url)
    yield client
    await client.close()
