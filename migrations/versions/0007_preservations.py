"""preservation requests: the case kind, its dates and its link to the production
demand that follows; the vault's holds and the records a customer deleted while
held; the new states and process types

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07

"""
import sqlalchemy as sa
from alembic import op

from models.schema_changes import widen_enum

STATES = ['received', 'legal_review', 'redirected', 'challenged', 'pending_approval', 'disclosed', 'no_data',
          'rejected', 'resolved_by_customer', 'withdrawn']
NEW_STATES = ['preserved', 'released', 'expired']
PROCESSES = ['subpoena', 'court_order', 'search_warrant', 'emergency', 'nsl', 'fisa_order', 'mlat',
             'cloud_act_order', 'epoc', 'local_order', 'informal']
NEW_PROCESSES = ['preservation_request', 'epoc_pr']
KIND = sa.Enum('production', 'preservation', name='case_kind', native_enum=False, create_constraint=True,
               length=32)
# (table, column, the enum's constraint name, values before, values after)
WIDENED = [
    ('cases', 'state', 'case_state', STATES, STATES + NEW_STATES),
    ('cases', 'process_type', 'process_type', PROCESSES, PROCESSES + NEW_PROCESSES),
    ('case_transitions', 'from_state', 'from_state', STATES, STATES + NEW_STATES),
    ('case_transitions', 'to_state', 'to_state', STATES, STATES + NEW_STATES),
    ('case_state_counts', 'state', 'counted_state', STATES, STATES + NEW_STATES),
]
REPORT_INDEX = ['received_at', 'agency_id', 'process_type', 'enterprise', 'content_requested', 'outcome',
                'accounts_specified', 'named_no_account', 'emergency', 'ndo_present', 'customer_notified',
                'challenged', 'redirected', 'reject_reason']

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    for table, column, name, before, after in WIDENED:
        widen_enum(op, table, column, name, before, after)
    if op.get_bind().dialect.name == "postgresql":
        op.add_column('cases', sa.Column('kind', KIND, nullable=False, server_default='production'))
        op.add_column('cases', sa.Column('preservation_id', sa.Integer(), nullable=True))
        op.create_foreign_key('fk_cases_preservation_id_cases', 'cases', 'cases', ['preservation_id'], ['id'])
    else:
        # SQLite adds a column with its CHECK or REFERENCES clause in place, which
        # Alembic does not write outside a batch rebuild (see widen_enum).
        op.execute("ALTER TABLE cases ADD COLUMN kind VARCHAR(32) DEFAULT 'production' NOT NULL "
                   "CONSTRAINT ck_cases_case_kind CHECK (kind IN ('production', 'preservation'))")
        op.execute("ALTER TABLE cases ADD COLUMN preservation_id INTEGER "
                   "CONSTRAINT fk_cases_preservation_id_cases REFERENCES cases (id)")
    op.add_column('cases', sa.Column('preserved_until', sa.DateTime(timezone=True), nullable=True))
    op.add_column('cases', sa.Column('extensions', sa.Integer(), nullable=False, server_default='0'))
    op.create_index('ix_cases_preservation_id', 'cases', ['preservation_id'])
    op.drop_index('ix_cases_report', table_name='cases')
    op.create_index('ix_cases_report', 'cases', [*REPORT_INDEX, 'kind'])

    op.add_column('customer_records', sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table('vault_holds',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('held_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_vault_holds_case_id_cases')),
    sa.ForeignKeyConstraint(['record_id'], ['customer_records.id'],
                            name=op.f('fk_vault_holds_record_id_customer_records')),
    sa.PrimaryKeyConstraint('case_id', 'record_id', name=op.f('pk_vault_holds'))
    )
    op.create_index('ix_vault_holds_record_id', 'vault_holds', ['record_id'])


def downgrade():
    op.drop_index('ix_vault_holds_record_id', table_name='vault_holds')
    op.drop_table('vault_holds')
    op.drop_column('customer_records', 'deleted_at')
    op.drop_index('ix_cases_report', table_name='cases')
    op.create_index('ix_cases_report', 'cases', REPORT_INDEX)
    op.drop_index('ix_cases_preservation_id', table_name='cases')
    for column in ('preservation_id', 'extensions', 'preserved_until', 'kind'):
        op.drop_column('cases', column)
    for table, column, name, before, after in WIDENED:
        widen_enum(op, table, column, name, after, before)
