"""bot per unit: the AI bot of a unit's subtree (org_unit.bot_id), the bot an outbox row goes out through
(outbox.bot), and grid.chat_id indexed to find a chat's unit

Revision ID: 0014_bot_per_unit
Revises: 0013_org_path_prefix
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0014_bot_per_unit'
down_revision = '0013_org_path_prefix'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('org_unit') as batch:
        batch.add_column(sa.Column('bot_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False, server_default=''))
        batch.create_index('ix_org_unit_bot_id', ['bot_id'], unique=False)
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('bot', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False, server_default=''))
    op.create_index('ix_grid_chat_id', 'grid', ['chat_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_grid_chat_id', table_name='grid')
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('bot')
    with op.batch_alter_table('org_unit') as batch:
        batch.drop_index('ix_org_unit_bot_id')
        batch.drop_column('bot_id')
