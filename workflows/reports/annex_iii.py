"""The provider's answer when a European Production Order or European Preservation
Order cannot be executed: the information Regulation (EU) 2023/1543 asks the
addressee to give the issuing authority (and the enforcing authority, where one
was notified) on the form of its Annex III, as a PDF the agency fetches with its
request (DESIGN 11.3).

It exists once such an order has ended without disclosure: rejected, or closed
because no data was held. The grounds are the form's, chosen from how the case
ended; the reviewer's internal note is not copied into it (the agency never sees
the internal review), so the form says what the regulation asks and points to
the request's messages for anything more.

Citations stay at the level of the article (Art. 10 executes an EPOC, Art. 11 an
EPOC-PR, Art. 12 holds the enforcing authority's grounds for refusal)."""

import hashlib
from dataclasses import dataclass
from datetime import datetime

from models import AuditAction, Case, CaseKind, ProcessType, RejectReason, State, db
from workflows import audit
from workflows.audit import Actor
from workflows.errors import NotFound
from workflows.reports import pdf

PROCESSES = frozenset({ProcessType.EPOC, ProcessType.EPOC_PR})
ENDED_WITHOUT_DISCLOSURE = frozenset({State.REJECTED, State.NO_DATA})


# The form's grounds, in its order: one is ticked.
CHOICES = [
    ("incomplete", "The order is incomplete, contains manifest errors or lacks the information needed to "
                   "execute it"),
    ("de_facto_impossibility", "De facto impossibility, not attributable to the addressee"),
    ("enforcing_refusal", "The enforcing authority raised a ground for refusal"),
    ("other", "Other reasons"),
]


@dataclass(frozen=True)
class Ground:
    """The ground ticked on the form (one of CHOICES) and what the provider says of it."""

    code: str
    text: str


INCOMPLETE = Ground(
    "incomplete",
    "The order as received does not allow the provider to execute it. Send a corrected or completed order, "
    "quoting our reference, and we will execute it.")
NO_ACCOUNT = Ground(
    "incomplete",
    "The order names no user, account or identifier, so the provider cannot tell which data it covers. An "
    "order that names the accounts can be executed.")
IMPOSSIBLE = Ground(
    "de_facto_impossibility",
    "The provider holds no data for what the order names: no such account exists, or its data was gone "
    "before the order was received.")
ENFORCING = Ground(
    "enforcing_refusal",
    "The enforcing authority notified the provider of a ground for refusal under Article 12 of the "
    "regulation. The provider does not produce the data.")


def other(reason: RejectReason | None) -> Ground:
    said = {
        RejectReason.WRONG_JURISDICTION:
            "The order is not one the provider may execute under the regulation (it is outside the "
            "regulation's scope or reaches the wrong addressee).",
        RejectReason.AGENCY_UNVERIFIED:
            "The provider could not verify that the order comes from the issuing authority it names.",
        RejectReason.VERIFICATION_FAILED:
            "The issuing authority, called back on its published number, did not confirm that it issued "
            "the order.",
        RejectReason.QUASHED: "The order was set aside after the provider challenged it.",
        RejectReason.OVERBROAD:
            "The order asks for more than the regulation allows an order of its kind to reach.",
    }.get(reason, "The provider cannot execute the order; the messages on this request say why.")
    return Ground("other", said)


def applies(case: Case) -> bool:
    """An EPOC or EPOC-PR that ended without disclosure has an Annex III answer."""
    return case.process_type in PROCESSES and case.state in ENDED_WITHOUT_DISCLOSURE


def ground(case: Case) -> Ground:
    if case.state is State.NO_DATA:
        return IMPOSSIBLE
    reason = case.reject_reason
    if reason is RejectReason.REFUSED_BY_ENFORCING_AUTHORITY:
        return ENFORCING
    if reason is RejectReason.INSUFFICIENT_PROCESS:
        return INCOMPLETE
    if not case.identifiers and reason in (RejectReason.OVERBROAD, RejectReason.OTHER, None):
        return NO_ACCOUNT
    return other(reason)


def ended_at(case: Case) -> datetime:
    return case.transitions[-1].at if case.transitions else case.received_at


def annex_iii_pdf(case: Case, provider: str, now: datetime) -> bytes:
    """The Annex III answer for `case` (check applies() first), as PDF bytes."""
    preservation = case.kind is CaseKind.PRESERVATION
    return pdf.render("answers/annex_iii.html", case=case, ground=ground(case), choices=CHOICES,
                      provider=provider, order="EPOC-PR" if preservation else "EPOC",
                      article="11" if preservation else "10", ended_at=ended_at(case), now=now)


def fetch(case: Case, actor: Actor, provider: str, now: datetime) -> bytes:
    """The Annex III answer as `actor` reads it: rendered now, the reading audited
    (with the PDF's SHA-256) and committed. Any other request has none: a 404 that
    says why."""
    if not applies(case):
        raise NotFound("This request has no Annex III answer: only a European Production or Preservation "
                       "Order that ended without disclosure has one.")
    body = annex_iii_pdf(case, provider, now)
    audit.record(AuditAction.ANNEX_III_FETCHED, actor, subject=("case", case.id), now=now, data={
        "reference": case.reference, "ground": ground(case).code, "sha256": hashlib.sha256(body).hexdigest()})
    db.session.commit()
    return body


def filename(case: Case) -> str:
    return f"{case.reference}-annex-iii.pdf"
