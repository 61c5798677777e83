"""Throwaway test databases: a new PostgreSQL database per test when TEST_DATABASE_URL is set."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

TEST_DATABASE_PREFIX = "passaparola_test_"


def postgresql_server_url() -> str | None:
    """The PostgreSQL server the tests may create databases on, if one is configured."""
    return os.environ.get("TEST_DATABASE_URL") or None


@asynccontextmanager
async def fresh_database(server_url: str) -> AsyncIterator[str]:
    """A new, empty database on the server of `server_url` (whose own database is only used to
    connect), dropped afterwards with any connection a test left open; yields its URL."""
    name = TEST_DATABASE_PREFIX + secrets.token_hex(6)
    server = make_url(server_url)
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    quoted = admin.dialect.identifier_preparer.quote(name)  # DDL takes no bound identifiers
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f"CREATE DATABASE {quoted}"))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as connection:
                await connection.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
    finally:
        await admin.dispose()
