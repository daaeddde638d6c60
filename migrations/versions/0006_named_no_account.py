"""cases: whether a demand named no account when it was received, for the
report's no_identifiers figure

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07

"""
import sqlalchemy as sa
from alembic import op

# Named no account when received: none named now, or an amendment whose `before`
# was empty (the amendment named them later).
BACKFILL = """
UPDATE cases SET named_no_account = (
    json_array_length(cases.identifiers) = 0
    OR EXISTS (SELECT 1 FROM case_transitions t WHERE t.case_id = cases.id AND t.trigger = 'amend'
               AND json_array_length({before}) = 0))
"""
SQLITE = {"before": "t.data, '$.identifiers.before'"}
POSTGRES = {"before": "t.data -> 'identifiers' -> 'before'"}

OLD_INDEX = ['received_at', 'agency_id', 'process_type', 'enterprise', 'content_requested', 'outcome',
             'accounts_specified', 'emergency', 'ndo_present', 'customer_notified', 'challenged', 'redirected',
             'reject_reason']
REPORT_INDEX = ['received_at', 'agency_id', 'process_type', 'enterprise', 'content_requested', 'outcome',
                'accounts_specified', 'named_no_account', 'emergency', 'ndo_present', 'customer_notified',
                'challenged', 'redirected', 'reject_reason']

# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE ... ADD COLUMN on both engines (see 0005).
    op.add_column('cases', sa.Column('named_no_account', sa.Boolean(), nullable=False, server_default='0'))
    postgres = op.get_bind().dialect.name == "postgresql"
    op.execute(BACKFILL.format(**(POSTGRES if postgres else SQLITE)))
    op.drop_index('ix_cases_report', table_name='cases')
    op.create_index('ix_cases_report', 'cases', REPORT_INDEX)


def downgrade():
    op.drop_index('ix_cases_report', table_name='cases')
    op.create_index('ix_cases_report', 'cases', OLD_INDEX)
    op.drop_column('cases', 'named_no_account')
