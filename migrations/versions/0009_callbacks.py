"""Emergency call-backs: the agency's directory number, the call-back recorded
on a case, and the rejection a failed one leads to

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

"""
import sqlalchemy as sa
from alembic import op

from models.schema_changes import widen_enum

REASONS = ['insufficient_process', 'overbroad', 'wrong_jurisdiction', 'agency_unverified', 'quashed', 'other',
           'refused_by_enforcing_authority']
NEW_REASONS = ['verification_failed']

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    widen_enum(op, 'cases', 'reject_reason', 'reject_reason', REASONS, REASONS + NEW_REASONS)
    op.add_column('agencies', sa.Column('phone', sa.String(length=16), nullable=True))
    op.create_table(
        'case_verifications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('method', sa.String(length=16), nullable=False),
        sa.Column('phone_called', sa.String(length=32), nullable=False),
        sa.Column('spoke_with', sa.String(length=200), nullable=False),
        sa.Column('outcome', sa.Enum('confirmed', 'failed', name='callback_outcome', native_enum=False,
                                     create_constraint=True, length=32), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('actor', sa.String(length=254), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_case_verifications_actor_id_users')),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_verifications_case_id_cases')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_case_verifications')),
        sa.UniqueConstraint('case_id', name=op.f('uq_case_verifications_case_id')),
    )


def downgrade():
    op.drop_table('case_verifications')
    op.drop_column('agencies', 'phone')
    widen_enum(op, 'cases', 'reject_reason', 'reject_reason', REASONS + NEW_REASONS, REASONS)
