"""the durable outbox and approved cases (issue 14: licences issued when a case is approved)

Revision ID: 0010
Revises: 0008 (h/cases merged h/services, which carries h/types' 0008;
the lead re-chains issue 14's migrations when merging)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    op.create_index("ix_outbox_claim", "outbox", ["topic", "state", "available_at"])
    op.create_table(
        "cases",
        sa.Column("case_code", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("department_code", sa.String(length=32), nullable=False),
        sa.Column("service_code", sa.String(length=64), nullable=False),
        sa.Column("event_sha256", sa.String(length=64), nullable=False),
        sa.Column("holder_ref", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("licence_ids", sa.JSON(), nullable=False),
        sa.Column("pending", sa.LargeBinary(), nullable=True),
        sa.Column("data_key", sa.LargeBinary(), nullable=True),
        sa.Column("data_kek", sa.String(length=512), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["department_code"], ["departments.code"]),
        sa.PrimaryKeyConstraint("case_code"),
    )
    op.create_index("ix_cases_holder_ref", "cases", ["holder_ref"])


def downgrade() -> None:
    op.drop_index("ix_cases_holder_ref", table_name="cases")
    op.drop_table("cases")
    op.drop_index("ix_outbox_claim", table_name="outbox")
    op.drop_table("outbox")
