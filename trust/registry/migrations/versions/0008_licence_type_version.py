"""licences.type_version: the version of the type definition a licence was issued under

Revision ID: 0008
Revises: 0007

A type's schema and layout change with its version (a deployment's own
definition in ``<home>/types/`` may replace a shipped one); the licence keeps
the version it was sealed under. Licences issued before this revision keep
NULL: which definition they used was not recorded, and guessing would be a lie.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("licences", schema=None) as batch_op:
        batch_op.add_column(sa.Column("type_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("licences", schema=None) as batch_op:
        batch_op.drop_column("type_version")
