"""holder references on licences, heartbeats and failure reasons on batch jobs

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 09:40:00.000000

Existing licences get their ``holder_ref`` from ``sealtrust licence
backfill-holder-refs`` (also run by ``sealtrust init`` on an existing home):
the reference needs the deployment's holder key, which a migration does not
see. Until then such a licence is visible to no holder (fail closed). Jobs
left ``running`` or ``finished`` by older code are normalised here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("licences", schema=None) as batch_op:
        batch_op.add_column(sa.Column("holder_ref", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_licences_holder_ref"), ["holder_ref"], unique=False)
    with op.batch_alter_table("batch_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reason", sa.Text(), nullable=True))
    jobs = sa.table("batch_jobs", sa.column("state", sa.String), sa.column("reason", sa.Text))
    op.execute(jobs.update().where(jobs.c.state == "finished").values(state="done"))
    # Whatever ran these is gone (the upgrade stops the service): say so rather than hang.
    op.execute(jobs.update().where(jobs.c.state.in_(("queued", "running")))
               .values(state="failed", reason="interrupted by the upgrade to schema 0005"))


def downgrade() -> None:
    with op.batch_alter_table("batch_jobs", schema=None) as batch_op:
        batch_op.drop_column("reason")
        batch_op.drop_column("heartbeat_at")
    with op.batch_alter_table("licences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_licences_holder_ref"))
        batch_op.drop_column("holder_ref")
