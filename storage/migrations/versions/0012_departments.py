"""departments: units that take tickets a grid cannot solve (流转), their staff, a ticket's department and its
上报 time, co-handlers (协办)

Revision ID: 0012_departments
Revises: 0011_ticket_source
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0012_departments'
down_revision = '0011_ticket_source'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('department',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=True),
    sa.Column('org_path', sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
    sa.Column('categories', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
    sa.Column('chat_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['org_unit.id'], name='fk_department_org'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_index(op.f('ix_department_org_path'), 'department', ['org_path'], unique=False)
    op.create_table('ticket_helper',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name='fk_ticket_helper_ticket'),
    sa.ForeignKeyConstraint(['grid_id'], ['grid.id'], name='fk_ticket_helper_grid'),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name='fk_ticket_helper_department'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_ticket_helper_ticket_id'), 'ticket_helper', ['ticket_id'], unique=False)
    with op.batch_alter_table('person') as batch:
        batch.add_column(sa.Column('department_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_person_department', 'department', ['department_id'], ['id'])
    with op.batch_alter_table('ticket') as batch:
        batch.add_column(sa.Column('department_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('reported_up_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch.create_foreign_key('fk_ticket_department', 'department', ['department_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('ticket') as batch:
        batch.drop_constraint('fk_ticket_department', type_='foreignkey')
        batch.drop_column('reported_up_at')
        batch.drop_column('department_id')
    with op.batch_alter_table('person') as batch:
        batch.drop_constraint('fk_person_department', type_='foreignkey')
        batch.drop_column('department_id')
    op.drop_index(op.f('ix_ticket_helper_ticket_id'), table_name='ticket_helper')
    op.drop_table('ticket_helper')
    op.drop_index(op.f('ix_department_org_path'), table_name='department')
    op.drop_table('department')
