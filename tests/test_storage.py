"""The database: SQLite pragmas and driver, migrations, and what a user row may hold."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import insert, inspect, select, text
from sqlalchemy.exc import IntegrityError

from storage.db import alembic_config, create_engine, migrate
from storage.models import User
from storage.users import UserRepository


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


@pytest.mark.sqlite_only
async def test_a_failed_statement_raises_sqlalchemys_error_and_loses_no_committed_row(
    conversation,
):
    async with conversation.sessionmaker() as session:
        await UserRepository(session).create("telegram", "7", "ar")
        await session.commit()
    async with conversation.sessionmaker() as session:
        with pytest.raises(IntegrityError):
            await UserRepository(session).create("telegram", "7", "tr")  # the same person again
        await session.rollback()
        users = (await session.scalars(select(User))).all()

    assert [(user.channel_user_id, user.locale) for user in users] == [("7", "ar")]


@pytest.mark.sqlite_only
async def test_a_session_closed_without_commit_leaves_nothing_behind(conversation):
    async with conversation.sessionmaker() as session:
        await UserRepository(session).create("telegram", "8", "it")  # flushed, never committed
    async with conversation.sessionmaker() as session:
        found = await UserRepository(session).find("telegram", "8")

    assert found is None


@pytest.mark.sqlite_only
async def test_many_rows_written_at_once_and_read_as_a_stream(conversation):
    people = [{"channel": "telegram", "channel_user_id": str(n), "locale": "uk", "roles": []}
              for n in range(250)]  # fmt: skip
    async with conversation.sessionmaker() as session:
        await session.execute(insert(User), people)
        await session.commit()
        streamed = [row async for row in await session.stream_scalars(select(User.channel_user_id))]

    assert sorted(streamed, key=int) == [str(n) for n in range(250)]
