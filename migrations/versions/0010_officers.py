"""Officers: people at an agency, who sign in; their verification; and the
single-use invitations that let anyone set their own password

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

"""
import sqlalchemy as sa
from alembic import op

from models.schema_changes import widen_enum

ROLES = ['intake', 'reviewer', 'approver', 'admin', 'auditor', 'customer']
NEW_ROLES = ['officer']

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    widen_enum(op, 'users', 'role', 'role', ROLES, ROLES + NEW_ROLES)
    if op.get_bind().dialect.name == "postgresql":
        op.add_column('users', sa.Column('agency_id', sa.Integer(), nullable=True))
        op.create_foreign_key('fk_users_agency_id_agencies', 'users', 'agencies', ['agency_id'], ['id'])
    else:
        # SQLite adds a column with its REFERENCES clause in place, which Alembic does
        # not write outside a batch rebuild (see 0007).
        op.execute("ALTER TABLE users ADD COLUMN agency_id INTEGER "
                   "CONSTRAINT fk_users_agency_id_agencies REFERENCES agencies (id)")
    op.add_column('users', sa.Column('officer_verified_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('users', sa.Column('officer_verification', sa.JSON(), nullable=True))
    op.create_index(op.f('ix_users_agency_id'), 'users', ['agency_id'])
    op.create_table(
        'invitations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_invitations_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invitations')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_invitations_token_hash')),
    )
    op.create_index(op.f('ix_invitations_user_id'), 'invitations', ['user_id'])


def downgrade():
    op.drop_index(op.f('ix_invitations_user_id'), table_name='invitations')
    op.drop_table('invitations')
    op.drop_index(op.f('ix_users_agency_id'), table_name='users')
    for column in ('officer_verification', 'officer_verified_at', 'agency_id'):
        op.drop_column('users', column)
    widen_enum(op, 'users', 'role', 'role', ROLES + NEW_ROLES, ROLES)
