"""ticket source: a resident's report (群众反映) or a grid worker's patrol find (巡查发现), and who found it

Revision ID: 0011_ticket_source
Revises: 0010_org_tree
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0011_ticket_source'
down_revision = '0010_org_tree'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ticket') as batch:
        batch.add_column(
            sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False, server_default='resident')
        )
        batch.add_column(sa.Column('found_by_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_ticket_found_by', 'person', ['found_by_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('ticket') as batch:
        batch.drop_constraint('fk_ticket_found_by', type_='foreignkey')
        batch.drop_column('found_by_id')
        batch.drop_column('source')
