"""A customer's portal users are the customer's to accept: a grant may be for a
customer, with the link sent to its notice address to accept it

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07

"""
import sqlalchemy as sa
from alembic import op

from models.schema_changes import widen_enum

KINDS = ['password_reset', 'password_changed', 'mfa_failed', 'mfa_locked', 'invitation', 'staff_grant']
NEW_KINDS = ['portal_user_request', 'portal_user_added']

# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    widen_enum(op, 'mail_outbox', 'kind', 'mail_kind', KINDS, KINDS + NEW_KINDS)
    if op.get_bind().dialect.name == "postgresql":
        op.add_column('grants', sa.Column('customer_id', sa.Integer(), nullable=True))
        op.create_foreign_key('fk_grants_customer_id_customers', 'grants', 'customers', ['customer_id'], ['id'])
    else:
        # SQLite adds a column with its REFERENCES clause in place (see 0007).
        op.execute("ALTER TABLE grants ADD COLUMN customer_id INTEGER "
                   "CONSTRAINT fk_grants_customer_id_customers REFERENCES customers (id)")
    op.add_column('grants', sa.Column('accept_token_hash', sa.String(length=64), nullable=True))
    op.create_index(op.f('ix_grants_customer_id'), 'grants', ['customer_id'])
    # A unique index rather than a constraint: SQLite cannot add a constraint in place.
    op.create_index('uq_grants_accept_token_hash', 'grants', ['accept_token_hash'], unique=True)


def downgrade():
    op.drop_index('uq_grants_accept_token_hash', table_name='grants')
    op.drop_index(op.f('ix_grants_customer_id'), table_name='grants')
    op.drop_column('grants', 'accept_token_hash')
    op.drop_column('grants', 'customer_id')
    widen_enum(op, 'mail_outbox', 'kind', 'mail_kind', KINDS + NEW_KINDS, KINDS)
