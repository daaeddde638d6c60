"""Which vault records a demand reaches: one account, one category, the demand's
date range. Shared by the production (door.py) and the preservation hold
(holds.py), so both read exactly the same records."""

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, or_

from models import Category
from models.vault import CustomerRecord


def in_scope(account_id: int, category: Category, date_from: date | None, date_to: date | None):
    clauses = [CustomerRecord.account_id == account_id, CustomerRecord.category == category]
    dated = []
    if date_from:
        dated.append(CustomerRecord.recorded_at >= datetime.combine(date_from, time(), UTC))
    if date_to:
        end = datetime.combine(date_to + timedelta(days=1), time(), UTC)
        dated.append(CustomerRecord.recorded_at < end)
    if dated and category is Category.SUBSCRIBER:  # a profile is tied to no moment: in any range
        clauses.append(or_(CustomerRecord.recorded_at.is_(None), and_(*dated)))
    elif dated:  # an undated log line or message cannot be shown to fall in the range: left out
        clauses.append(and_(*dated))
    return and_(*clauses)
