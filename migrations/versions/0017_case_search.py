"""Search: each account a case names, one row per identifier, and the agencies'
case numbers indexed, so a reviewer finds a case by what they know

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07

"""
import json

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade():
    op.create_table(
        'case_identifiers',
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('identifier', sa.String(length=254), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_identifiers_case_id_cases')),
        sa.PrimaryKeyConstraint('case_id', 'identifier', name=op.f('pk_case_identifiers')),
    )
    op.create_index('ix_case_identifiers_identifier', 'case_identifiers', ['identifier'])
    op.create_index('ix_cases_case_number', 'cases', ['case_number'])
    # Every case logged so far, in batches: the identifiers as intake stored them.
    bind = op.get_bind()
    cases = sa.table('cases', sa.column('id', sa.Integer), sa.column('identifiers', sa.Text))
    rows_table = sa.table('case_identifiers', sa.column('case_id', sa.Integer),
                          sa.column('identifier', sa.String))
    last = 0
    while True:
        batch = bind.execute(sa.select(cases.c.id, cases.c.identifiers).where(cases.c.id > last)
                             .order_by(cases.c.id).limit(BATCH)).all()
        if not batch:
            break
        rows = []
        for case_id, raw in batch:
            named = json.loads(raw) if isinstance(raw, str) else (raw or [])
            rows += [{"case_id": case_id, "identifier": i} for i in dict.fromkeys(named)]
        if rows:
            bind.execute(rows_table.insert(), rows)
        last = batch[-1][0]


def downgrade():
    op.drop_index('ix_cases_case_number', table_name='cases')
    op.drop_index('ix_case_identifiers_identifier', table_name='case_identifiers')
    op.drop_table('case_identifiers')
