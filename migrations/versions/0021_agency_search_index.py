"""Search by the start of an agency's name: each agency's cases in deadline order

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_cases_agency_due', 'cases', ['agency_id', 'priority', 'due_at', 'id'])


def downgrade():
    op.drop_index('ix_cases_agency_due', table_name='cases')
