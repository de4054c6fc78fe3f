"""subscribe credits: how many subscribe messages of a template the mini-program may still send a user

Revision ID: 0018_subscribe_credits
Revises: 0017_resident_app
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0018_subscribe_credits'
down_revision = '0017_resident_app'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('subscribe_credit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mp_openid', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('template_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('credits', sa.Integer(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint('credits >= 0', name='ck_subscribe_credit_credits'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('mp_openid', 'template_id', name='uq_subscribe_credit_openid_template')
    )


def downgrade() -> None:
    op.drop_table('subscribe_credit')
