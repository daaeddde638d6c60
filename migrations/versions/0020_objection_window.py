"""The customer's objection window: until when a case's current proposal waits
for objections, when a customer said they do not object, and the receipt
customers get for an objection

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07

"""
import sqlalchemy as sa
from alembic import op

from models.schema_changes import widen_enum

KINDS = ['password_reset', 'password_changed', 'mfa_failed', 'mfa_locked', 'invitation', 'staff_grant',
         'portal_user_request', 'portal_user_added', 'agency_message', 'agency_answer', 'reminder']
NEW_KINDS = ['objection_receipt']

# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('cases', sa.Column('objection_deadline', sa.DateTime(timezone=True), nullable=True))
    op.add_column('notices', sa.Column('no_objection_at', sa.DateTime(timezone=True), nullable=True))
    widen_enum(op, 'mail_outbox', 'kind', 'mail_kind', KINDS, KINDS + NEW_KINDS)


def downgrade():
    widen_enum(op, 'mail_outbox', 'kind', 'mail_kind', KINDS + NEW_KINDS, KINDS)
    op.drop_column('notices', 'no_objection_at')
    op.drop_column('cases', 'objection_deadline')
