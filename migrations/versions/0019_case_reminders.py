"""Reminders about cases: one row per case and kind, so each is sent exactly
once, with the message that carries it; account mail gains the reminder kind

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07

"""
import sqlalchemy as sa
from alembic import op

from models.schema_changes import widen_enum

KINDS = ['password_reset', 'password_changed', 'mfa_failed', 'mfa_locked', 'invitation', 'staff_grant',
         'portal_user_request', 'portal_user_added', 'agency_message', 'agency_answer']
NEW_KINDS = ['reminder']

# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'case_reminders',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.Enum('due_soon', 'overdue', 'emergency_untaken', 'hold_ending', name='reminder_kind',
                                  native_enum=False, create_constraint=True, length=32), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('mail_id', sa.Integer(), nullable=True),
        sa.Column('recipients', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_reminders_case_id_cases')),
        sa.ForeignKeyConstraint(['mail_id'], ['mail_outbox.id'], name=op.f('fk_case_reminders_mail_id_mail_outbox')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_case_reminders')),
        sa.UniqueConstraint('case_id', 'kind', name='uq_case_reminders_case_kind'),
    )
    op.create_index(op.f('ix_case_reminders_mail_id'), 'case_reminders', ['mail_id'])
    widen_enum(op, 'mail_outbox', 'kind', 'mail_kind', KINDS, KINDS + NEW_KINDS)


def downgrade():
    widen_enum(op, 'mail_outbox', 'kind', 'mail_kind', KINDS + NEW_KINDS, KINDS)
    op.drop_index(op.f('ix_case_reminders_mail_id'), table_name='case_reminders')
    op.drop_table('case_reminders')
