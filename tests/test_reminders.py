"""Reminders (DESIGN 11.5): due within 24 hours, overdue, an emergency nobody took,
a preservation ending; each written once per case and kind and sent through a
real SMTP server by `reminders send`; one that cannot be delivered is shown to
staff."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from models import Case, CaseReminder, Delivery, MailMessage, ReminderKind, Role, db, utcnow
from tests.conftest import MAIL_PUBLIC_URL, pairs, sign_in
from tests.test_case_concurrency import in_threads
from workflows import cases


def set_case(case_id: int, **values) -> None:
    db.session.execute(sa.update(Case).where(Case.id == case_id).values(**values))
    db.session.commit()


def reminders_of(case_id: int) -> list[ReminderKind]:
    db.session.expire_all()
    return [r.kind for r in db.session.scalars(
        sa.select(CaseReminder).where(CaseReminder.case_id == case_id).order_by(CaseReminder.id))]


@pytest.fixture
def staff(make_user):
    """A reviewer and two approvers (one of them no longer active)."""
    reviewer = make_user(Role.REVIEWER)
    approver = make_user(Role.APPROVER)
    make_user(Role.APPROVER, active=False)
    return reviewer, approver


def test_each_reminder_goes_once_to_whom_it_concerns(app, cli, mailbox, make_case, staff):
    reviewer, approver = staff
    now = utcnow()
    soon, late, calm = (make_case("legal_review") for _ in range(3))
    for case, due in ((soon, now + timedelta(hours=5)), (late, now - timedelta(hours=2)),
                      (calm, now + timedelta(days=6))):
        set_case(case.id, assignee_id=reviewer.id, due_at=due)
    untaken = make_case("received", process="emergency", request_type="emergency",
                        emergency_justification="A child is missing; location needed now.")
    set_case(untaken.id, created_at=now - timedelta(minutes=31), due_at=now + timedelta(hours=7))
    ending = make_case("preserved", process="preservation_request", categories=("subscriber",))
    set_case(ending.id, assignee_id=reviewer.id, preserved_until=now + timedelta(days=4))

    first = pairs(cli("reminders", "send").output)
    assert first["written_due_soon"] == "2"  # soon, and the emergency due in 7 hours
    assert (first["written_overdue"], first["written_emergency_untaken"], first["written_hold_ending"]) == \
        ("1", "1", "1")
    assert first["mail_sent"] == "5" and first["mail"] == "configured"

    assert reminders_of(soon.id) == [ReminderKind.DUE_SOON]
    assert reminders_of(late.id) == [ReminderKind.OVERDUE]
    assert reminders_of(calm.id) == []
    assert set(reminders_of(untaken.id)) == {ReminderKind.DUE_SOON, ReminderKind.EMERGENCY_UNTAKEN}
    assert reminders_of(ending.id) == [ReminderKind.HOLD_ENDING]

    received = mailbox.handler.messages()
    by_subject = {m.subject: m for m in received}
    overdue = by_subject[f"{late.reference} is overdue"]
    assert sorted(overdue.rcpt_tos) == sorted([reviewer.email, approver.email])
    assert f"{MAIL_PUBLIC_URL}/cases/{late.id}" in overdue.text
    assert by_subject[f"{soon.reference} is due within 24 hours"].rcpt_tos == [reviewer.email]
    untaken_mail = by_subject[f"Emergency {untaken.reference}: nobody has taken it"]
    assert untaken_mail.rcpt_tos == [approver.email]  # every active approver, no one else
    # Due soon while nobody has it: the approvers, who can assign it, are told so.
    due_untaken = by_subject[f"{untaken.reference} is due within 24 hours"]
    assert due_untaken.rcpt_tos == [approver.email] and "Nobody has taken this case" in due_untaken.text
    assert by_subject[f"{ending.reference}: the preservation ends soon"].rcpt_tos == [reviewer.email]

    again = pairs(cli("reminders", "send").output)
    assert all(again[f"written_{k.value}"] == "0" for k in ReminderKind) and again["mail_sent"] == "0"
    assert len(mailbox.handler.messages()) == len(received) == 5

    # The case that was calm comes due: its reminder goes, once.
    set_case(calm.id, due_at=utcnow() + timedelta(hours=3))
    assert pairs(cli("reminders", "send").output)["written_due_soon"] == "1"
    assert pairs(cli("reminders", "run", "--passes", "2", "--interval", "0").output)["reminders"] == "running"
    assert len(mailbox.handler.messages()) == 6


def test_closed_cases_are_not_reminded(app, cli, mailbox, make_case, staff):
    closed = make_case("rejected")
    set_case(closed.id, due_at=utcnow() - timedelta(days=3))
    held = make_case("preserved", process="preservation_request", categories=("subscriber",))
    set_case(held.id, due_at=utcnow() - timedelta(days=3), preserved_until=utcnow() + timedelta(days=60))
    out = pairs(cli("reminders", "send").output)
    assert out["written_overdue"] == "0" and out["written_hold_ending"] == "0"
    assert reminders_of(closed.id) == reminders_of(held.id) == []


def test_a_reminder_that_cannot_be_delivered_is_shown_to_staff(app, cli, mailbox, new_client, make_case,
                                                              staff):
    reviewer, _ = staff
    late = make_case("legal_review")
    set_case(late.id, assignee_id=reviewer.id, due_at=utcnow() - timedelta(hours=1))
    mailbox.handler.fail_next(1, "550 5.1.1 mailbox unavailable")
    out = pairs(cli("reminders", "send").output)
    assert out["written_overdue"] == "1" and out["mail_failed"] == "1"
    [message] = db.session.scalars(sa.select(MailMessage).where(MailMessage.kind == "reminder"))
    assert message.delivery is Delivery.FAILED
    client = new_client()
    sign_in(client, reviewer)
    page = client.get("/notices/").get_data(as_text=True)
    assert "Reminders not delivered" in page and late.reference in page and "550" in page
    case_page = client.get(f"/cases/{late.id}").get_data(as_text=True)
    assert "Reminders to staff" in case_page and "Overdue:" in case_page and "not delivered" in case_page


@pytest.mark.slow
def test_two_runners_at_once_write_each_reminder_once(app, make_case, staff):
    reviewer, _ = staff
    late_ids = []
    for _ in range(3):
        case = make_case("legal_review")
        set_case(case.id, assignee_id=reviewer.id, due_at=utcnow() - timedelta(hours=1))
        late_ids.append(case.id)

    def runner():
        return cases.write_reminders(utcnow(), lambda case_id: f"https://x.example/cases/{case_id}")

    results = in_threads(app, [runner, runner])
    assert sum(r.written["overdue"] for r in results) == 3
    rows = db.session.scalars(sa.select(CaseReminder).where(CaseReminder.case_id.in_(late_ids))).all()
    assert sorted(r.case_id for r in rows) == sorted(late_ids)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MailMessage)
                             .where(MailMessage.kind == "reminder")) == 3
