"""service grants (一证通办): grants.service_code/service_version/holder_ref, grant_licences

Revision ID: 0009
Revises: 0008

A service grant covers several licences of one holder; ``grants.licence_id``
becomes nullable (one-licence grants keep it) and each licence of a service
grant, with its granted fields, is a ``grant_licences`` row.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"  # 0007 in the brief; chained after h/types' 0008 (merged here)
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("service_code", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("service_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("holder_ref", sa.String(length=64), nullable=True))
        batch_op.alter_column("licence_id", existing_type=sa.String(length=64), nullable=True)
        batch_op.create_index(batch_op.f("ix_grants_holder_ref"), ["holder_ref"], unique=False)
    op.create_table(
        "grant_licences",
        sa.Column("grant_id", sa.String(length=64), nullable=False),
        sa.Column("licence_id", sa.String(length=64), nullable=False),
        sa.Column("type_code", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(["grant_id"], ["grants.id"]),
        sa.ForeignKeyConstraint(["licence_id"], ["licences.id"]),
        sa.PrimaryKeyConstraint("grant_id", "licence_id"),
    )


def downgrade() -> None:
    # Service grants have no place in the old schema: refuse rather than lose them.
    bind = op.get_bind()
    count = bind.execute(sa.text("SELECT COUNT(*) FROM grants WHERE licence_id IS NULL")
                         ).scalar()
    if count:
        raise RuntimeError(f"{count} service grants exist; they cannot be downgraded")
    op.drop_table("grant_licences")
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grants_holder_ref"))
        batch_op.alter_column("licence_id", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column("holder_ref")
        batch_op.drop_column("service_version")
        batch_op.drop_column("service_code")
