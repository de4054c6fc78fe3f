"""ops indexes: overdue open tickets by index alone

Revision ID: 0006_ops
Revises: 0005
Create Date: 2026-11-30
"""
from alembic import op


revision = '0006_ops'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.create_index('ix_ticket_open_due', ['status', 'paused_at', 'resolve_due_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_open_due')
