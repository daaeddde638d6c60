"""The audit log for auditors: filters by actor, action, case and days, paging
that keeps them, clear errors for a filter that cannot be, and an export of a
selection that a script with nothing but the standard library checks offline."""

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import sqlalchemy as sa

from models import AuditAction, AuditEvent, Role, db
from tests.test_bad_input import signed_in_as
from workflows import audit_log
from workflows.audit import Actor, record

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "verify_audit_export.py"
DAY = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)  # after the sign-ins: times never run backwards
ALICE = Actor("alice@provider.example", 41)
BOB = Actor("bob@provider.example", 42)


@pytest.fixture
def auditor(new_client, make_user):
    return signed_in_as(new_client, make_user, Role.AUDITOR)


def spread_events(case_id: int) -> None:
    """Ten days of events: Alice views the case each day, Bob signs in each day."""
    for day in range(10):
        moment = DAY + timedelta(days=day)
        record(AuditAction.CASE_VIEWED, ALICE, subject=("case", case_id), data={"day": day}, now=moment)
        record(AuditAction.SIGN_IN, BOB, subject=("user", 42), now=moment + timedelta(hours=1))
    db.session.commit()


def shown(page) -> list[tuple[str, str]]:
    """(who, what) of each row the page shows."""
    import re

    html = page.get_data(as_text=True)
    body = html[html.index("<tbody>"):html.index("</tbody>")]
    return re.findall(r'<td><span class="cell-label">Event </span>\d+</td>\s*<td>[^<]*</td>\s*'
                      r'<td><span class="cell-label">Who: </span>([^<]*)</td>\s*'
                      r'<td><span class="cell-label">What: </span><code>([^<]*)</code>', body)


def test_each_filter_narrows_the_events(app, auditor, make_case):
    case = make_case("legal_review")
    spread_events(case.id)

    by_action = shown(auditor.get("/audit/", query_string={"action": "case.viewed"}))
    assert by_action and {what for _, what in by_action} == {"case.viewed"}
    by_actor = shown(auditor.get("/audit/", query_string={"actor": BOB.label}))
    assert len(by_actor) == 10 and {who for who, _ in by_actor} == {BOB.label}
    by_case = shown(auditor.get("/audit/", query_string={"case": case.reference.lower()}))
    assert len([row for row in by_case if row == (ALICE.label, "case.viewed")]) == 10
    days = shown(auditor.get("/audit/", query_string={"since": "2027-01-03", "until": "2027-01-04",
                                                         "actor": ALICE.label}))
    assert len(days) == 2
    page = auditor.get("/audit/", query_string={"actor": "nobody@provider.example"})
    assert page.status_code == 200 and "No event matches these filters." in page.get_data(as_text=True)


def test_a_time_range_is_found_by_event_number(app):
    for day in range(30):
        record(AuditAction.SIGN_IN, BOB, now=DAY + timedelta(days=day, minutes=day))
    db.session.commit()
    times = dict(db.session.execute(sa.select(AuditEvent.seq, AuditEvent.at)).all())
    for probe in [DAY - timedelta(days=1), DAY, DAY + timedelta(days=7, hours=3), DAY + timedelta(days=40)]:
        expected = min((seq for seq, at in times.items() if at >= probe), default=max(times) + 1)
        assert audit_log._first_at_or_after(probe) == expected


def test_paging_keeps_the_filters(app, auditor):
    for n in range(120):
        record(AuditAction.CASE_VIEWED, ALICE, subject=("case", 7), now=DAY + timedelta(seconds=n))
        record(AuditAction.SIGN_IN, BOB, now=DAY + timedelta(seconds=n, milliseconds=1))
    db.session.commit()
    seen, query = [], {"actor": ALICE.label}
    for _ in range(3):
        page = auditor.get("/audit/", query_string=query)
        rows = shown(page)
        assert {who for who, _ in rows} == {ALICE.label}
        seen += rows
        html = page.get_data(as_text=True)
        if "Older events" not in html:
            break
        link = html[html.index('<a href="/audit/?before='):].split('"')[1].replace("&amp;", "&")
        query = dict(parse_qsl(urlsplit(link).query))
        assert query["actor"] == ALICE.label
    assert len(seen) == 120


@pytest.mark.parametrize(("args", "field", "words"), [
    ({"action": "case.deleted"}, "action", "Choose an action from the list."),
    ({"case": "LR-2026-999999"}, "case", "There is no case LR-2026-999999."),
    ({"since": "2026-13-01"}, "since", "Give a date as YYYY-MM-DD."),
    ({"since": "2027-01-05", "until": "2027-01-01"}, "until", "comes before its start"),
    ({"actor": "a\u202eb"}, "actor", "control"),
])
def test_a_filter_that_cannot_be_is_a_422_naming_the_field(app, auditor, args, field, words):
    page = auditor.get("/audit/", query_string=args)
    html = page.get_data(as_text=True)
    assert page.status_code == 422
    assert f'id="f-{field}-error"' in html and words.lower() in html.lower()


def test_an_export_checks_out_offline_and_a_changed_line_does_not(app, auditor, make_case, tmp_path):
    case = make_case("legal_review")
    spread_events(case.id)
    response = auditor.get("/audit/export", query_string={"actor": ALICE.label})
    assert response.status_code == 200 and response.mimetype == "application/x-ndjson"
    assert "attachment" in response.headers["Content-Disposition"]
    lines = response.get_data(as_text=True).splitlines()
    header, events = json.loads(lines[0]), [json.loads(line) for line in lines[1:]]
    assert header["selection"] == {"actor": ALICE.label} and header["head"]["seq"] >= len(events)
    assert [e["actor"] for e in events] == [ALICE.label] * 10
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)  # oldest first

    export = tmp_path / "export.jsonl"
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    checked = subprocess.run([sys.executable, str(SCRIPT), str(export)], capture_output=True, text=True)
    assert checked.returncode == 0 and checked.stdout.startswith("intact: 10 events"), checked.stdout

    events[3]["data"]["day"] = 99  # one figure changed after export
    export.write_text("\n".join([lines[0], *(json.dumps(e) for e in events)]) + "\n", encoding="utf-8")
    checked = subprocess.run([sys.executable, str(SCRIPT), str(export)], capture_output=True, text=True)
    assert checked.returncode == 1 and f"event {events[3]['seq']}" in checked.stdout

    # The whole log, exported, links every event to the one before.
    everything = auditor.get("/audit/export").get_data(as_text=True)
    export.write_text(everything, encoding="utf-8")
    checked = subprocess.run([sys.executable, str(SCRIPT), str(export)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout
    count = len(everything.splitlines()) - 1
    assert f"{count - 1} links between consecutive events" in checked.stdout

    exported = db.session.execute(sa.select(AuditEvent.actor, AuditEvent.data)
                                  .where(AuditEvent.action == AuditAction.AUDIT_EXPORTED.value)
                                  .order_by(AuditEvent.seq)).all()
    assert exported[0].actor == "auditor@provider.example"
    assert exported[0].data["selection"] == {"actor": ALICE.label} and exported[0].data["events"] == 10


def test_an_export_too_large_asks_for_a_narrower_selection(app, auditor, monkeypatch):
    for n in range(6):
        record(AuditAction.SIGN_IN, BOB, now=DAY + timedelta(minutes=n))
    db.session.commit()
    monkeypatch.setattr(audit_log, "EXPORT_MAX", 5)
    refused = auditor.get("/audit/export")
    assert refused.status_code == 422 and "narrow the selection" in refused.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == AuditAction.AUDIT_EXPORTED.value)) == 0
    assert auditor.get("/audit/export", query_string={"until": "2026-12-31"}).status_code == 200
