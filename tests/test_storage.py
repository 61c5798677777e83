"""The database: SQLite pragmas, migrations, and what a user row may hold."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from storage.db import alembic_config, create_engine, migrate


@pytest.mark.sqlite_only
async def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(settings):
    engine = create_engine(settings.database_url)
    async with engine.connect() as connection:
        journal = await connection.scalar(text("PRAGMA journal_mode"))
        foreign_keys = await connection.scalar(text("PRAGMA foreign_keys"))
        busy_timeout = await connection.scalar(text("PRAGMA busy_timeout"))
    await engine.dispose()

    assert (journal, foreign_keys) == ("wal", 1)
    assert busy_timeout >= 1000


async def test_migrations_reach_the_newest_revision_and_are_idempotent(settings):
    engine = create_engine(settings.database_url)
    await migrate(engine)
    await migrate(engine)
    async with engine.connect() as connection:
        columns = await connection.run_sync(
            lambda sync: {column["name"] for column in inspect(sync).get_columns("users")}
        )
        version = await connection.scalar(text("SELECT version_num FROM alembic_version"))
    await engine.dispose()

    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert columns == {
        "id", "channel", "channel_user_id", "locale", "status", "roles", "consented_at",
        "first_seen_at", "last_seen_at", "organisation_id", "muted", "referral_code", "public_name",
    }  # fmt: skip
    assert not {"phone", "phone_number", "text", "message"} & columns


async def test_models_and_migrations_agree(settings):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from storage.models import Base
    from storage.search import include_name

    engine = create_engine(settings.database_url)
    await migrate(engine)
    async with engine.connect() as connection:
        differences = await connection.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"include_name": include_name}),
                Base.metadata,
            )
        )
    await engine.dispose()

    assert differences == [], "add an Alembic migration for the model change"
