"""Agencies' registered e-mail domains, on which people may register as officers

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'agency_domains',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.Column('domain', sa.String(length=253), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'],
                                name=op.f('fk_agency_domains_agency_id_agencies')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_agency_domains')),
        sa.UniqueConstraint('domain', name=op.f('uq_agency_domains_domain')),
    )
    op.create_index(op.f('ix_agency_domains_agency_id'), 'agency_domains', ['agency_id'])


def downgrade():
    op.drop_index(op.f('ix_agency_domains_agency_id'), table_name='agency_domains')
    op.drop_table('agency_domains')
