"""reporter rating: a linked reporter's rating is kept apart from the first reporter's, which decides the ticket;
an outbox index by ticket and event, so a burst of linked reports makes one alert

Revision ID: 0009_reporter_rating
Revises: 0008_data_version
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0009_reporter_rating'
down_revision = '0008_data_version'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ticket_reporter') as batch:
        batch.add_column(sa.Column('rating', sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column('rating_note', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False, server_default='')
        )
    op.create_index('ix_outbox_ticket_event', 'outbox', ['ticket_id', 'event'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_outbox_ticket_event', table_name='outbox')
    with op.batch_alter_table('ticket_reporter') as batch:
        batch.drop_column('rating_note')
        batch.drop_column('rating')
