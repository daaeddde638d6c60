"""Officers' own API tokens: a token names the officer it acts as (none: the
agency's system token) and carries the name its officer gave it

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.add_column('agency_tokens', sa.Column('officer_id', sa.Integer(), nullable=True))
        op.create_foreign_key('fk_agency_tokens_officer_id_users', 'agency_tokens', 'users', ['officer_id'],
                              ['id'])
    else:
        # SQLite adds a column with its REFERENCES clause in place (see 0007).
        op.execute("ALTER TABLE agency_tokens ADD COLUMN officer_id INTEGER "
                   "CONSTRAINT fk_agency_tokens_officer_id_users REFERENCES users (id)")
    op.add_column('agency_tokens', sa.Column('name', sa.String(length=100), nullable=False, server_default=''))
    op.create_index(op.f('ix_agency_tokens_officer_id'), 'agency_tokens', ['officer_id'])


def downgrade():
    op.drop_index(op.f('ix_agency_tokens_officer_id'), table_name='agency_tokens')
    op.drop_column('agency_tokens', 'name')
    op.drop_column('agency_tokens', 'officer_id')
