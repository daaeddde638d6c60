"""The words a case is made of: states, request and process types, data categories.

They live with the models because columns are typed by them; the rules about them
live in workflows (states.py for the transition table, legal.py for the law)."""

from enum import StrEnum


class State(StrEnum):
    RECEIVED = "received"
    LEGAL_REVIEW = "legal_review"
    REDIRECTED = "redirected"
    CHALLENGED = "challenged"
    PENDING_APPROVAL = "pending_approval"
    DISCLOSED = "disclosed"
    NO_DATA = "no_data"
    REJECTED = "rejected"
    RESOLVED_BY_CUSTOMER = "resolved_by_customer"
    WITHDRAWN = "withdrawn"
    # A preservation request's own states (DESIGN 11.2).
    PRESERVED = "preserved"
    RELEASED = "released"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


TERMINAL_STATES = frozenset({
    State.DISCLOSED, State.NO_DATA, State.REJECTED, State.RESOLVED_BY_CUSTOMER, State.WITHDRAWN,
    State.RELEASED, State.EXPIRED,
})
OPEN_STATES = tuple(s for s in State if s not in TERMINAL_STATES)


class CaseKind(StrEnum):
    """A production demand asks for data; a preservation request asks that it be
    kept until a production demand follows (DESIGN 11.2)."""

    PRODUCTION = "production"
    PRESERVATION = "preservation"


class RequestType(StrEnum):
    CRIMINAL = "criminal"
    CIVIL = "civil"
    EMERGENCY = "emergency"
    NATIONAL_SECURITY = "national_security"


class ProcessType(StrEnum):
    SUBPOENA = "subpoena"
    COURT_ORDER = "court_order"
    SEARCH_WARRANT = "search_warrant"
    EMERGENCY = "emergency"
    NSL = "nsl"
    FISA_ORDER = "fisa_order"
    MLAT = "mlat"
    CLOUD_ACT_ORDER = "cloud_act_order"
    EPOC = "epoc"
    LOCAL_ORDER = "local_order"
    INFORMAL = "informal"
    PRESERVATION_REQUEST = "preservation_request"
    EPOC_PR = "epoc_pr"

    @property
    def label(self) -> str:
        return PROCESS_LABELS[self]

    @property
    def kind(self) -> CaseKind:
        """The kind of case this process opens: a preservation process only preserves."""
        preserving = self in (ProcessType.PRESERVATION_REQUEST, ProcessType.EPOC_PR)
        return CaseKind.PRESERVATION if preserving else CaseKind.PRODUCTION

    @property
    def is_national_security(self) -> bool:
        return self in (ProcessType.NSL, ProcessType.FISA_ORDER)


PROCESS_LABELS = {
    ProcessType.SUBPOENA: "Subpoena",
    ProcessType.COURT_ORDER: "Court order (2703(d))",
    ProcessType.SEARCH_WARRANT: "Search warrant",
    ProcessType.EMERGENCY: "Emergency request",
    ProcessType.NSL: "National security letter",
    ProcessType.FISA_ORDER: "FISA order",
    ProcessType.MLAT: "MLAT request",
    ProcessType.CLOUD_ACT_ORDER: "CLOUD Act order",
    ProcessType.EPOC: "European Production Order",
    ProcessType.LOCAL_ORDER: "Local order",
    ProcessType.INFORMAL: "Informal request",
    ProcessType.PRESERVATION_REQUEST: "Preservation request (2703(f))",
    ProcessType.EPOC_PR: "European Preservation Order",
}


class Category(StrEnum):
    SUBSCRIBER = "subscriber"
    NON_CONTENT = "non_content"
    CONTENT = "content"

    @property
    def label(self) -> str:
        return CATEGORY_LABELS[self]


CATEGORY_LABELS = {
    Category.SUBSCRIBER: "Basic subscriber information",
    Category.NON_CONTENT: "Non-content records (logs, IP addresses, headers)",
    Category.CONTENT: "Stored content",
}


class Channel(StrEnum):
    API = "api"
    PORTAL = "portal"
    EMAIL = "email"
    POST = "post"
    FAX = "fax"
    IN_PERSON = "in_person"


class RejectReason(StrEnum):
    INSUFFICIENT_PROCESS = "insufficient_process"
    OVERBROAD = "overbroad"
    WRONG_JURISDICTION = "wrong_jurisdiction"
    AGENCY_UNVERIFIED = "agency_unverified"
    QUASHED = "quashed"
    OTHER = "other"
    REFUSED_BY_ENFORCING_AUTHORITY = "refused_by_enforcing_authority"  # Reg. (EU) 2023/1543 Art. 12
    VERIFICATION_FAILED = "verification_failed"  # an emergency the agency's call-back did not confirm


class CallbackOutcome(StrEnum):
    """What a call-back to the agency's directory number found."""

    CONFIRMED = "confirmed"  # the agency confirmed it sent the request
    FAILED = "failed"  # it did not: the request is taken as forged


class MessageSide(StrEnum):
    """Who wrote a message on a request: the provider's staff, or the agency."""

    PROVIDER = "provider"
    AGENCY = "agency"
