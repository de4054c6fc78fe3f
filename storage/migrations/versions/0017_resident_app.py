"""resident app: a resident's mini-program openid and unionid, and the photos residents upload

Revision ID: 0017_resident_app
Revises: 0016_centre_account
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0017_resident_app'
down_revision = '0016_centre_account'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('person') as batch:
        batch.add_column(sa.Column('mp_openid', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch.add_column(sa.Column('unionid', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch.create_unique_constraint('uq_person_mp_openid', ['mp_openid'])
        batch.create_unique_constraint('uq_person_unionid', ['unionid'])
    op.create_table('photo',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=96), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lng', sa.Float(), nullable=True),
    sa.Column('check', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('trace_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name='fk_photo_person'),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name='fk_photo_ticket'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    op.create_index('ix_photo_person_created', 'photo', ['person_id', 'created_at'])
    op.create_index(op.f('ix_photo_ticket_id'), 'photo', ['ticket_id'])
    op.create_index(op.f('ix_photo_trace_id'), 'photo', ['trace_id'])


def downgrade() -> None:
    op.drop_table('photo')
    with op.batch_alter_table('person') as batch:
        batch.drop_constraint('uq_person_unionid', type_='unique')
        batch.drop_constraint('uq_person_mp_openid', type_='unique')
        batch.drop_column('unionid')
        batch.drop_column('mp_openid')
