"""Grants of power: a new staff user or a role change, proposed by one
administrator and approved by another; account mail gains invitations and the
announcement of each grant

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07

"""
import sqlalchemy as sa
from alembic import op

from models.schema_changes import widen_enum

KINDS = ['password_reset', 'password_changed', 'mfa_failed', 'mfa_locked']
NEW_KINDS = ['invitation', 'staff_grant']
ROLES = ['intake', 'reviewer', 'approver', 'admin', 'auditor', 'customer', 'officer']

# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def _enum(name: str, values: list[str]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade():
    widen_enum(op, 'mail_outbox', 'kind', 'mail_kind', KINDS, KINDS + NEW_KINDS)
    op.create_table(
        'grants',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('role', _enum('grant_role', ROLES), nullable=False),
        sa.Column('previous_role', _enum('grant_previous_role', ROLES), nullable=True),
        sa.Column('state', _enum('grant_state', ['pending', 'approved', 'refused']), nullable=False),
        sa.Column('pending_key', sa.String(length=254), nullable=True),
        sa.Column('requested_by_id', sa.Integer(), nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('note', sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_grants_user_id_users')),
        sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'],
                                name=op.f('fk_grants_requested_by_id_users')),
        sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_grants_decided_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_grants')),
        sa.UniqueConstraint('pending_key', name=op.f('uq_grants_pending_key')),
    )
    op.create_index(op.f('ix_grants_user_id'), 'grants', ['user_id'])


def downgrade():
    op.drop_index(op.f('ix_grants_user_id'), table_name='grants')
    op.drop_table('grants')
    widen_enum(op, 'mail_outbox', 'kind', 'mail_kind', KINDS + NEW_KINDS, KINDS)
