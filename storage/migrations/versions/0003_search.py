"""search index: SQLite FTS5 over content texts, with a term list for typo correction

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Every name starts with "search_" so that autogenerate leaves these raw tables alone
# (storage.search.include_name). A text's rowid packs kind, item and locale codes, so a search
# never joins and an item's texts are one rowid range; search_fts reads its text from search_docs.
SQLITE_UPGRADE = (
    "CREATE TABLE search_kinds (code INTEGER PRIMARY KEY, kind TEXT NOT NULL UNIQUE)",
    "CREATE TABLE search_locales (code INTEGER PRIMARY KEY, locale TEXT NOT NULL UNIQUE)",
    "CREATE TABLE search_docs (id INTEGER PRIMARY KEY, terms TEXT NOT NULL)",
    """
    CREATE VIRTUAL TABLE search_fts USING fts5(
        terms, content = 'search_docs', content_rowid = 'id', tokenize = 'ascii'
    )
    """,
    """
    CREATE TABLE search_vocab (
        kind INTEGER NOT NULL,
        locale INTEGER NOT NULL,
        term TEXT NOT NULL,
        df INTEGER NOT NULL,
        PRIMARY KEY (kind, term, locale)
    ) WITHOUT ROWID
    """,
)
SQLITE_DOWNGRADE = (
    "DROP TABLE search_vocab",
    "DROP TABLE search_fts",
    "DROP TABLE search_docs",
    "DROP TABLE search_locales",
    "DROP TABLE search_kinds",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL gets its own search backend and migration
    for statement in SQLITE_UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for statement in SQLITE_DOWNGRADE:
        op.execute(statement)
