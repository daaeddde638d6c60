"""Messages between reviewers and agencies on demo requests: the geofence warrant
still in review is asked to name its accounts, and the demo officer's agency has
one question answered and one waiting for it (its portal shows "We asked you
something"). Written through the same calls the pages make."""

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from models import Case, CaseKind, CaseMessage, Role, State, User, db
from workflows import cases
from workflows.audit import Actor
from workflows.cases import Caller

NAME_THE_ACCOUNTS = (
    "This warrant names no account: it asks for every device seen in an area over several hours. Please "
    "name the accounts (e-mail addresses or account IDs) it is for. Until it names them we cannot disclose "
    "anything, and we will ask the court to narrow it if it stays as it is.")
QUESTION = ("The second page of the order you sent is cut off at the bottom, in the list of accounts. Could "
            "you confirm that the order names exactly the accounts in your request?")
ANSWER = ("Confirmed: the order names exactly those accounts. A clean copy of the order follows through the "
          "usual channel.")
WAITING = ("The order gives no end date for the records it seeks. Please tell us the period it covers, or "
           "confirm that it is meant to cover every record held.")


def seed_messages(now: datetime, reviewer: User, officer_email: str | None) -> int:
    """Write the demo's messages once; returns how many."""
    if db.session.scalar(select(CaseMessage.id).limit(1)) is not None:
        return 0
    base = (current_app.config.get("PUBLIC_URL") or "http://127.0.0.1:5000").rstrip("/")
    staff = Caller(reviewer.id, Role.REVIEWER, now, Actor(reviewer.email, reviewer.id))
    written = 0

    def ask(case: Case, text: str, at: datetime) -> None:
        nonlocal written
        cases.write_to_agency(case.id, text, staff, at, f"{base}/agency/requests/{case.id}")
        written += 1

    reviewing = (select(Case).where(Case.state == State.LEGAL_REVIEW, Case.kind == CaseKind.PRODUCTION)
                 .order_by(Case.received_at))
    for case in db.session.scalars(reviewing.where(Case.named_no_account.is_(True))).all():
        ask(case, NAME_THE_ACCOUNTS, now - timedelta(hours=30))
    officer = db.session.scalar(select(User).where(User.email == officer_email)) if officer_email else None
    if officer is not None:
        theirs = db.session.scalars(reviewing.where(Case.agency_id == officer.agency_id,
                                                    Case.named_no_account.is_(False))).all()
        if theirs:
            ask(theirs[0], QUESTION, now - timedelta(hours=26))
            cases.write_to_provider(theirs[0].id, officer.agency_id, ANSWER, Actor(officer.email, officer.id),
                                    officer.id, now - timedelta(hours=20), f"{base}/cases/{theirs[0].id}")
            written += 1
        if len(theirs) > 1:
            ask(theirs[1], WAITING, now - timedelta(hours=5))
    db.session.commit()
    return written
