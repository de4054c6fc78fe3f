"""org tree: units (区 → 街道 → 社区) with their centres' chats; a grid's community and that unit's path; a
supervisor's unit

Revision ID: 0010_org_tree
Revises: 0009_reporter_rating
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0010_org_tree'
down_revision = '0009_reporter_rating'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('org_unit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('level', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('path', sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
    sa.Column('chat_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['org_unit.id'], name='fk_org_unit_parent'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_index(op.f('ix_org_unit_parent_id'), 'org_unit', ['parent_id'], unique=False)
    op.create_index(op.f('ix_org_unit_path'), 'org_unit', ['path'], unique=False)
    with op.batch_alter_table('grid') as batch:
        batch.add_column(sa.Column('org_id', sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column('org_path', sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False, server_default='')
        )
        batch.create_foreign_key('fk_grid_org', 'org_unit', ['org_id'], ['id'])
        batch.create_index(batch.f('ix_grid_org_path'), ['org_path'], unique=False)
    with op.batch_alter_table('person') as batch:
        batch.add_column(sa.Column('org_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_person_org', 'org_unit', ['org_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('person') as batch:
        batch.drop_constraint('fk_person_org', type_='foreignkey')
        batch.drop_column('org_id')
    with op.batch_alter_table('grid') as batch:
        batch.drop_index(batch.f('ix_grid_org_path'))
        batch.drop_constraint('fk_grid_org', type_='foreignkey')
        batch.drop_column('org_path')
        batch.drop_column('org_id')
    op.drop_index(op.f('ix_org_unit_path'), table_name='org_unit')
    op.drop_index(op.f('ix_org_unit_parent_id'), table_name='org_unit')
    op.drop_table('org_unit')
