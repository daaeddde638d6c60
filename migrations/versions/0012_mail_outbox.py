"""Account mail: an outbox for messages about people's own accounts (a reset link,
a warning of wrong codes), sent by the relay beside the notices; single-use
links gain a purpose (an invitation or a password reset)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07

"""
import sqlalchemy as sa
from alembic import op

KINDS = ['password_reset', 'password_changed', 'mfa_failed', 'mfa_locked']
DELIVERY = ['waiting', 'pending', 'sending', 'sent', 'failed', 'not_configured']

# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'mail_outbox',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.Enum(*KINDS, name='mail_kind', native_enum=False, create_constraint=True,
                                  length=32), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('recipients', sa.JSON(), nullable=False),
        sa.Column('subject', sa.String(length=300), nullable=False),
        sa.Column('body_sealed', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('delivery', sa.Enum(*DELIVERY, name='delivery', native_enum=False, create_constraint=True,
                                      length=32), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mail_outbox_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_outbox')),
    )
    op.create_index('ix_mail_outbox_due', 'mail_outbox', ['delivery', 'next_attempt_at', 'id'])
    op.create_index(op.f('ix_mail_outbox_user_id'), 'mail_outbox', ['user_id'])
    op.add_column('invitations', sa.Column('purpose', sa.String(length=16), nullable=False,
                                           server_default='invitation'))


def downgrade():
    op.drop_column('invitations', 'purpose')
    op.drop_index(op.f('ix_mail_outbox_user_id'), table_name='mail_outbox')
    op.drop_index('ix_mail_outbox_due', table_name='mail_outbox')
    op.drop_table('mail_outbox')
