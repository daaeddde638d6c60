"""Messages between the provider's staff and the agency on a request, and the
account mail that tells each side of a new one

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07

"""
import sqlalchemy as sa
from alembic import op

from models.schema_changes import widen_enum

KINDS = ['password_reset', 'password_changed', 'mfa_failed', 'mfa_locked', 'invitation', 'staff_grant',
         'portal_user_request', 'portal_user_added']
NEW_KINDS = ['agency_message', 'agency_answer']

# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'case_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('side', sa.Enum('provider', 'agency', name='message_side', native_enum=False,
                                  create_constraint=True, length=32), nullable=False),
        sa.Column('author_id', sa.Integer(), nullable=True),
        sa.Column('author', sa.String(length=254), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_messages_case_id_cases')),
        sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_case_messages_author_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_case_messages')),
    )
    op.create_index(op.f('ix_case_messages_case_id'), 'case_messages', ['case_id'])
    widen_enum(op, 'mail_outbox', 'kind', 'mail_kind', KINDS, KINDS + NEW_KINDS)


def downgrade():
    widen_enum(op, 'mail_outbox', 'kind', 'mail_kind', KINDS + NEW_KINDS, KINDS)
    op.drop_index(op.f('ix_case_messages_case_id'), table_name='case_messages')
    op.drop_table('case_messages')
