"""licence files and request digests

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 07:45:36.120156
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
        "licence_files",
        sa.Column("licence_id", sa.String(length=64), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["licence_id"],
            ["licences.id"],
        ),
        sa.PrimaryKeyConstraint("licence_id"),
    )
    with op.batch_alter_table("licences", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("licences", schema=None) as batch_op:
        batch_op.drop_column("request_sha256")

    op.drop_table("licence_files")
