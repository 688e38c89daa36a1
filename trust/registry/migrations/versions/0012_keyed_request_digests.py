"""keyed request digests: licences.request_mac (HMAC-SM3) replaces request_sha256

Revision ID: 0012
Revises: 0007

``request_sha256`` held a plain SHA-256 of the licence record: a dictionary
attack on identity numbers. New rows store only ``request_mac``; existing
rows keep their digest until :func:`trust.registry.request_macs.upgrade_request_macs`
(run by ``sealtrust init`` on an existing home and ``sealtrust registry
key-digests``) keys them in resumable batches and clears the old column.
Idempotency checks read both forms throughout (docs/encryption-at-rest.md).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("licences", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_mac", sa.String(length=64), nullable=True))


def downgrade() -> None:
    # Keyed rows cannot be turned back into plain digests (that is the point): refuse.
    bind = op.get_bind()
    keyed = bind.execute(sa.text("SELECT COUNT(*) FROM licences WHERE request_mac IS NOT NULL")
                         ).scalar()
    if keyed:
        raise RuntimeError(f"{keyed} licences have keyed request digests; the older schema "
                           "cannot hold them")
    with op.batch_alter_table("licences", schema=None) as batch_op:
        batch_op.drop_column("request_mac")
