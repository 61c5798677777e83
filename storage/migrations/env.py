"""Alembic environment: runs on the connection the application hands over, or on DATABASE_URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

from storage.models import Base
from storage.search import include_name

target_metadata = Base.metadata


def run_on(connection: Connection) -> None:
    """Run the migrations inside one transaction on `connection`."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_name=include_name,  # the search_* tables are raw FTS5 SQL, not models
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_from_settings() -> None:
    """Command-line use (`alembic upgrade head`): connect with the configured DATABASE_URL."""
    from bot.settings import load_settings
    from storage.db import create_engine

    engine = create_engine(load_settings().database_url)
    async with engine.begin() as connection:
        await connection.run_sync(run_on)
    await engine.dispose()


shared_connection = context.config.attributes.get("connection")
if shared_connection is not None:
    run_on(shared_connection)
else:
    asyncio.run(run_from_settings())
