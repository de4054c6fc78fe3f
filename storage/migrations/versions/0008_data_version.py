"""data version: a token per kind of reference data, replaced when it changes (the grid list, for routing)

Revision ID: 0008_data_version
Revises: 0007_scale
Create Date: 2026-11-23
"""
import uuid
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0008_data_version'
down_revision = '0007_scale'
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table('data_version',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('token', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('changed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    # The grids already there get a token now, so routing stops reading every grid row per complaint at once.
    op.bulk_insert(table, [{'name': 'grids', 'token': uuid.uuid4().hex, 'changed_at': datetime.now(UTC)}])


def downgrade() -> None:
    op.drop_table('data_version')
