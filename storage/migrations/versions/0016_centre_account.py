"""centre account: local sign-ins for the command centre's screen (/centre/), each acting as a supervisor

Revision ID: 0016_centre_account
Revises: 0015_reported_up_index
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0016_centre_account'
down_revision = '0015_reported_up_index'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('centre_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('last_signed_in_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name='fk_centre_account_person'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )


def downgrade() -> None:
    op.drop_table('centre_account')
