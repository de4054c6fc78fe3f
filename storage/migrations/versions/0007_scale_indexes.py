"""scale indexes: one grid's tickets of a period (统计 … <网格>) by index

Revision ID: 0007_scale
Revises: 0006_ops
Create Date: 2026-11-23
"""
from alembic import op


revision = '0007_scale'
down_revision = '0006_ops'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.create_index('ix_ticket_grid_created', ['grid_id', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_grid_created')
