"""Intake looks for an open case with the same document: case documents indexed by their SHA-256

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-08

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_case_documents_sha256', 'case_documents', ['sha256'])


def downgrade():
    op.drop_index('ix_case_documents_sha256', table_name='case_documents')
