"""Fixtures: settings on a fresh database, the conversation core, playground and bot.

The database is a temporary SQLite file, or a new PostgreSQL database on the server that
TEST_DATABASE_URL names (dropped after the test). Tests marked `sqlite_only` check SQLite itself
and keep their SQLite file either way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from telegram.ext import Application

from bot.conversation import Conversation
from bot.i18n import Catalog
from bot.playground.client import PlaygroundClient
from bot.settings import Settings, load_settings
from storage.db import create_engine, create_sessionmaker, migrate
from tests.support.databases import fresh_database, postgresql_server_url
from tests.support.servers import RunningPlayground, run_bot, serve_playground

ADMIN_ID = 4242


def pytest_report_header() -> str:
    """Say which database the tests run on."""
    server_url = postgresql_server_url()
    if server_url is None:
        return "database: SQLite (a temporary file per test; set TEST_DATABASE_URL for PostgreSQL)"
    server = make_url(server_url).render_as_string(hide_password=True)
    return f"database: PostgreSQL, a new database per test on {server} (sqlite_only: SQLite)"


@pytest.fixture
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database: PostgreSQL if TEST_DATABASE_URL is set, else a SQLite file."""
    server_url = postgresql_server_url()
    if server_url is None or request.node.get_closest_marker("sqlite_only"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    async with fresh_database(server_url) as url:
        yield url


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Settings isolated from the developer's .env, on a fresh database."""
    return load_settings(
        _env_file=None,
        database_url=database_url,
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
