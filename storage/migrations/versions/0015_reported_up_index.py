"""reported up index: a centre's 上报 list reads the tickets handed up to it, oldest first, from an index

Revision ID: 0015_reported_up_index
Revises: 0014_bot_per_unit
Create Date: 2026-12-03
"""
from alembic import op


revision = '0015_reported_up_index'
down_revision = '0014_bot_per_unit'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_ticket_reported_up', 'ticket', ['reported_up_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_ticket_reported_up', table_name='ticket')
