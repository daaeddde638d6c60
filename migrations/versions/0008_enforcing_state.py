"""European Production Orders: the enforcing State notified of the order, the
moment its authority cleared it, and the rejection its refusal causes

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

"""
import sqlalchemy as sa
from alembic import op

from models.schema_changes import widen_enum

REASONS = ['insufficient_process', 'overbroad', 'wrong_jurisdiction', 'agency_unverified', 'quashed', 'other']
NEW_REASONS = ['refused_by_enforcing_authority']

# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    widen_enum(op, 'cases', 'reject_reason', 'reject_reason', REASONS, REASONS + NEW_REASONS)
    op.add_column('cases', sa.Column('enforcing_state', sa.String(length=2), nullable=True))
    op.add_column('cases', sa.Column('enforcing_notified', sa.Boolean(), nullable=False, server_default='0'))
    op.add_column('cases', sa.Column('enforcing_cleared_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    for column in ('enforcing_cleared_at', 'enforcing_notified', 'enforcing_state'):
        op.drop_column('cases', column)
    widen_enum(op, 'cases', 'reject_reason', 'reject_reason', REASONS + NEW_REASONS, REASONS)
