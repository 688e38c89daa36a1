"""sealed personal data: licences.record, data_key, data_kek; holder columns nullable

Revision ID: 0007
Revises: 0004

Rows keep their plaintext until ``sealtrust registry encrypt`` seals them
(docs/encryption-at-rest.md); reading works for both kinds throughout.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("licences", schema=None) as batch_op:
        batch_op.add_column(sa.Column("record", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("data_key", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("data_kek", sa.String(length=512), nullable=True))
        batch_op.alter_column("holder_name", existing_type=sa.String(length=200),
                              nullable=True)
        batch_op.alter_column("holder", existing_type=sa.JSON(), nullable=True)
        batch_op.create_index("ix_licences_data_kek", ["data_kek"], unique=False)


def downgrade() -> None:
    # Only a registry with no sealed rows can go back: the old schema has nowhere to put them.
    bind = op.get_bind()
    sealed = bind.execute(sa.text("SELECT COUNT(*) FROM licences WHERE data_key IS NOT NULL")
                          ).scalar()
    if sealed:
        raise RuntimeError(f"{sealed} licences are encrypted; decrypt them before downgrading")
    with op.batch_alter_table("licences", schema=None) as batch_op:
        batch_op.drop_index("ix_licences_data_kek")
        batch_op.alter_column("holder", existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column("holder_name", existing_type=sa.String(length=200),
                              nullable=False)
        batch_op.drop_column("data_kek")
        batch_op.drop_column("data_key")
        batch_op.drop_column("record")
