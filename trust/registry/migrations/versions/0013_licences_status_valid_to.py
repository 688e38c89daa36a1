"""licences (status, valid_to): the daily expiry job and expiry notices find due rows by index

Revision ID: 0013
Revises: 0012

``expire_due`` and ``notify_expiring`` select live licences whose
``valid_to`` falls before a cutoff. Without this index each run reads every
licence the province ever issued (tens of millions, growing forever); with it
each live status is one range read of the rows actually due.
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_licences_status_valid_to", "licences", ["status", "valid_to"])


def downgrade() -> None:
    op.drop_index("ix_licences_status_valid_to", table_name="licences")
