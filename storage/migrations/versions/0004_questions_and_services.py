"""questions and services

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "emergency_numbers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_numbers")),
        sa.UniqueConstraint("external_id", name=op.f("uq_emergency_numbers_external_id")),
    )
    op.create_table(
        "faq_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("source_locale", sa.String(length=16), nullable=False),
        sa.Column("service_ids", sa.JSON(), nullable=False),
        sa.Column("promoted_from", sa.Integer(), nullable=True),
        sa.Column("helpful", sa.Integer(), nullable=False),
        sa.Column("unhelpful", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faq_entries")),
        sa.UniqueConstraint("external_id", name=op.f("uq_faq_entries_external_id")),
    )
    op.create_table(
        "services",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("source_locale", sa.String(length=16), nullable=False),
        sa.Column("texts", sa.JSON(), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("hours", sa.JSON(), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("website", sa.String(length=300), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("free", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
        sa.UniqueConstraint("external_id", name=op.f("uq_services_external_id")),
    )
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_services_category"), ["category"], unique=False)

    op.create_table(
        "faq_texts",
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("phrasings", sa.JSON(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["faq_entries.id"],
            name=op.f("fk_faq_texts_entry_id_faq_entries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entry_id", "locale", name=op.f("pk_faq_texts")),
    )
    op.create_table(
        "helper_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asker_id", sa.Integer(), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "waiting",
                "claimed",
                "answered",
                "rated",
                "closed",
                name="questionstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("helper_id", sa.Integer(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["asker_id"],
            ["users.id"],
            name=op.f("fk_helper_questions_asker_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["helper_id"],
            ["users.id"],
            name=op.f("fk_helper_questions_helper_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helper_questions")),
    )
    with op.batch_alter_table("helper_questions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_helper_questions_asker_id"), ["asker_id"], unique=False
        )
        batch_op.create_index(
            "ix_helper_questions_status_locale", ["status", "locale"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("helper_questions", schema=None) as batch_op:
        batch_op.drop_index("ix_helper_questions_status_locale")
        batch_op.drop_index(batch_op.f("ix_helper_questions_asker_id"))

    op.drop_table("helper_questions")
    op.drop_table("faq_texts")
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_services_category"))

    op.drop_table("services")
    op.drop_table("faq_entries")
    op.drop_table("emergency_numbers")
