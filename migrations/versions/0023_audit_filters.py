"""The auditor's filters: indexes on actor, action and subject, each ending in the event number

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-08

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_audit_events_action', table_name='audit_events')
    op.drop_index('ix_audit_events_subject', table_name='audit_events')
    op.create_index('ix_audit_events_subject_seq', 'audit_events', ['subject_type', 'subject_id', 'seq'])
    op.create_index('ix_audit_events_action_seq', 'audit_events', ['action', 'seq'])
    op.create_index('ix_audit_events_actor_seq', 'audit_events', ['actor', 'seq'])


def downgrade():
    op.drop_index('ix_audit_events_actor_seq', table_name='audit_events')
    op.drop_index('ix_audit_events_action_seq', table_name='audit_events')
    op.drop_index('ix_audit_events_subject_seq', table_name='audit_events')
    op.create_index('ix_audit_events_subject', 'audit_events', ['subject_type', 'subject_id'])
    op.create_index('ix_audit_events_action', 'audit_events', ['action'])
