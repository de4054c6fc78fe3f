"""org path prefix: an index PostgreSQL can read `org_path LIKE 'prefix%'` from (varchar_pattern_ops), so a unit's
subtree does not read every grid of a city

Revision ID: 0013_org_path_prefix
Revises: 0012_departments
Create Date: 2026-12-03
"""
from alembic import op


revision = '0013_org_path_prefix'
down_revision = '0012_departments'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        'ix_grid_org_path_prefix', 'grid', ['org_path'], unique=False, postgresql_ops={'org_path': 'varchar_pattern_ops'}
    )


def downgrade() -> None:
    op.drop_index('ix_grid_org_path_prefix', table_name='grid')
