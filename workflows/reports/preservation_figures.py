"""A period's preservation requests (DESIGN 11.6): counted apart from the
production demands, in total and by the requesting agency's country."""

from datetime import datetime
from functools import cache

from sqlalchemy import bindparam, exists, func, select
from sqlalchemy.orm import aliased

from models import Agency, Case, CaseKind, State, db

PRESERVATION_FIGURES = ("requests", "extended", "converted", "expired")


@cache
def _preservation_statement():
    """One pass over a period's preservation requests, by agency: how many, how
    many were extended, followed by a production demand, or ran out."""
    follower = aliased(Case)
    followed = exists().where(follower.preservation_id == Case.id)
    figures = [func.count(), func.count().filter(Case.extensions > 0), func.count().filter(followed),
               func.count().filter(Case.state == State.EXPIRED)]
    return (select(Case.agency_id, *figures)
            .where(Case.received_at >= bindparam("start"), Case.received_at < bindparam("end"),
                   Case.kind == CaseKind.PRESERVATION)
            .group_by(Case.agency_id))


def preservation_block(start: datetime, end: datetime, countries: dict[int, str]) -> dict:
    """The period's preservation block: in total and by the agency's country.
    `countries` (agency id -> country) is filled in for agencies it lacks."""
    rows = db.session.connection().execute(
        _preservation_statement(), {"start": start, "end": end}).all()
    missing = {row[0] for row in rows} - set(countries)
    if missing:
        countries.update(db.session.execute(select(Agency.id, Agency.country)
                                            .where(Agency.id.in_(missing))).all())
    block, by_country = dict.fromkeys(PRESERVATION_FIGURES, 0), {}
    for agency_id, *figures in rows:
        country = by_country.setdefault(countries[agency_id], dict.fromkeys(PRESERVATION_FIGURES, 0))
        for name, n in zip(PRESERVATION_FIGURES, figures, strict=True):
            block[name] += n
            country[name] += n
    return {**block, "by_country": dict(sorted(by_country.items()))}
