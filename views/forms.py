"""WTForms for the HTML pages: CSRF token included, errors shown beside fields."""

from flask import flash, redirect, request
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    EmailField,
    Form,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, Regexp
from wtforms.widgets import DateInput, DateTimeLocalInput

from models import Category, Channel, ProcessType, RequestType, Role, State, db
from views.errors import status_of
from workflows.cases import CHANNEL_LABELS, REQUEST_TYPE_LABELS, SORTS
from workflows.errors import Conflict, InvalidInput
from workflows.schema import validate


class SignInForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


class ForgotPasswordForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])


class CodeForm(FlaskForm):
    code = StringField(
        "Six-digit code",
        validators=[DataRequired(), Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message="Enter the 6 digits.")],
    )


class SecondFactorForm(FlaskForm):
    password = PasswordField("Your password", validators=[DataRequired(), Length(max=256)])
    code = StringField(
        "Six-digit code from the app",
        validators=[DataRequired(), Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message="Enter the 6 digits.")],
    )


class PasswordChangeForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired()])
    new = PasswordField("New password", validators=[DataRequired(), Length(min=12, max=256)])
    confirm = PasswordField(
        "New password again",
        validators=[DataRequired(), EqualTo("new", message="The two new passwords differ.")],
    )


class InvitationForm(FlaskForm):
    password = PasswordField("Choose a password", validators=[DataRequired(), Length(min=12, max=256)])
    confirm = PasswordField(
        "The same password again",
        validators=[DataRequired(), EqualTo("password", message="The two passwords differ.")],
    )


STAFF_CHOICES = [SelectChoice(r.value, r.label) for r in Role if r.is_staff]


class NewUserForm(FlaskForm):
    """A new staff user, proposed: a second administrator approves it, and the
    person sets their own password from an invitation. Officers are invited for
    their agency; a customer's portal users are the customer's to accept."""

    email = EmailField("E-mail", validators=[DataRequired(), Email(), Length(max=254)])
    name = StringField("Full name", validators=[Optional(), Length(max=200)])
    role = SelectField("Role", choices=STAFF_CHOICES)


class PortalUserRequestForm(FlaskForm):
    """An administrator asks a customer to accept a portal user; the view fills the
    customer choices before validation."""

    customer_id = SelectField("Customer", coerce=str)
    email = EmailField("E-mail", validators=[DataRequired(), Email(), Length(max=254)])
    name = StringField("Full name", validators=[Optional(), Length(max=200)])


class RegistrationForm(FlaskForm):
    email = EmailField("Your work e-mail", validators=[DataRequired(), Length(max=254)])
    name = StringField("Your full name and rank", validators=[DataRequired(), Length(max=200)])


class ColleagueForm(FlaskForm):
    email = EmailField("Their e-mail", validators=[DataRequired(), Email(), Length(max=254)])
    name = StringField("Their full name", validators=[Optional(), Length(max=200)])


class AnswerForm(FlaskForm):
    """Accept or decline: which button was pressed."""

    answer = SelectField("Answer", choices=[SelectChoice("accept", "Accept"),
                                            SelectChoice("decline", "Decline")])


class RoleForm(FlaskForm):
    role = SelectField("New role", choices=STAFF_CHOICES)


class GrantDecisionForm(FlaskForm):
    note = TextAreaField("Note (optional)", validators=[Optional(), Length(max=1000)])


class ActionForm(FlaskForm):
    """A button that changes state: only its CSRF token."""


class ConfirmForm(FlaskForm):
    """Re-authentication: the password and a fresh code, for the signed-in user."""

    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])
    code = StringField(
        "Six-digit code",
        validators=[DataRequired(), Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message="Enter the 6 digits.")],
    )


def _choose(options) -> list[SelectChoice]:
    return [SelectChoice("", "Choose one")] + [SelectChoice(value, label) for value, label in options]


def _day(label: str, description: str = "") -> StringField:
    return StringField(label, widget=DateInput(), description=description)


class CaseForm(FlaskForm):
    """The intake desk's form for one demand. The checks are cases.parse_case's,
    the same as the APIs'; this form only gathers the fields. body() takes the
    known fields alone, so nothing else posted (a state, an id) reaches the case."""

    agency_id = SelectField("Agency", validate_choice=False)
    received_at = StringField("Received (UTC)", widget=DateTimeLocalInput(),
                              description="When the demand arrived, in UTC; not in the future.")
    channel = SelectField("Arrived by", default=Channel.EMAIL.value, validate_choice=False,
                          choices=[SelectChoice(c.value, CHANNEL_LABELS[c]) for c in Channel])
    request_type = SelectField("Request type", validate_choice=False,
                               choices=_choose((r.value, REQUEST_TYPE_LABELS[r]) for r in RequestType))
    process_type = SelectField("Legal process", validate_choice=False,
                               choices=_choose((p.value, p.label) for p in ProcessType))
    issuing_authority = StringField("Issuing authority", description="The court, prosecutor or agency that "
                                                                     "issued the process.")
    judicial = BooleanField("Issued or validated by a judge or court")
    issued_on = _day("Issued on")
    expires_on = _day("Expires on", "Leave empty if the process states no expiry.")
    signed = BooleanField("Signed")
    case_number = StringField("Case number")
    response_due = _day("Response due", "The date the process asks for an answer by, if any.")
    identifiers = TextAreaField(
        "Accounts named",
        description="One per line: an e-mail address, username or account id, as the demand names it. "
                    "Leave empty if it names none (a geofence or keyword demand): it is logged, and nothing "
                    "can be disclosed until the agency names the accounts.")
    categories = SelectMultipleField("Data requested", validate_choice=False,
                                     choices=[SelectChoice(c.value, c.label) for c in Category])
    date_from = _day("From")
    date_to = _day("To")
    ndo_present = BooleanField("A non-disclosure order comes with the demand")
    ndo_statute = StringField("Statute", description="For example 18 U.S.C. 2705(b).")
    ndo_ends_on = _day("Ends on", "Leave empty if the order states no end date.")
    emergency_justification = TextAreaField(
        "Emergency justification",
        description="Emergencies only: the danger of death or serious physical injury the agency states.")
    document = FileField("Legal process document (PDF)",
                         description="The process exactly as served, as a PDF of at most 20 MB.")

    # parse_case's names for the fields (DESIGN section 9) -> this form's fields
    FIELDS = {
        "agency_id": "agency_id", "received_at": "received_at", "channel": "channel",
        "request_type": "request_type", "legal_process.type": "process_type",
        "legal_process.issuing_authority": "issuing_authority", "legal_process.judicial": "judicial",
        "legal_process.issued_on": "issued_on", "legal_process.expires_on": "expires_on",
        "legal_process.signed": "signed", "legal_process.case_number": "case_number",
        "legal_process.response_due": "response_due", "identifiers": "identifiers",
        "categories": "categories", "date_range.from": "date_from", "date_range.to": "date_to",
        "ndo.present": "ndo_present", "ndo.statute": "ndo_statute", "ndo.ends_on": "ndo_ends_on",
        "emergency_justification": "emergency_justification", "file": "document",
    }

    def body(self) -> dict:
        """The DESIGN section 9 case body."""
        def text(f):
            return (f.data or "").strip() or None

        agency = text(self.agency_id)
        return {
            # A choice from the list is a number; anything else is refused beside the field.
            "agency_id": int(agency) if agency and agency.isascii() and agency.isdigit() and len(agency) < 12
            else agency,
            "received_at": text(self.received_at),
            "channel": text(self.channel), "request_type": text(self.request_type),
            "legal_process": {
                "type": text(self.process_type), "issuing_authority": text(self.issuing_authority),
                "judicial": self.judicial.data, "issued_on": text(self.issued_on),
                "expires_on": text(self.expires_on), "signed": self.signed.data,
                "case_number": text(self.case_number), "response_due": text(self.response_due),
            },
            "identifiers": [line for line in (self.identifiers.data or "").splitlines() if line.strip()],
            "categories": list(self.categories.data or []),
            "date_range": {"from": text(self.date_from), "to": text(self.date_to)},
            "ndo": {"present": self.ndo_present.data, "statute": text(self.ndo_statute),
                    "ends_on": text(self.ndo_ends_on)},
            "emergency_justification": text(self.emergency_justification),
        }

    def show_errors(self, fields: dict[str, str]) -> None:
        """Put each problem beside its field, named as the form names it."""
        for key, message in fields.items():
            target = getattr(self, self.FIELDS.get(key, ""), None)
            if target is None:
                self.form_errors.append(message)
                continue
            if isinstance(target, SelectMultipleField) and not target.data:
                message = "Choose at least one category of data."
            elif isinstance(target, SelectField) and not target.data:
                message = f"Choose the {target.label.text.lower()}."
            elif message.startswith(key):
                message = target.label.text + message[len(key):]
            target.errors = [*target.errors, message]


YES_NO = [SelectChoice("", "Either"), SelectChoice("yes", "Yes"), SelectChoice("no", "No")]


class QueueFilterForm(Form):
    """The queue's filters, read from the query string (a GET form: no token)."""

    q = StringField("Find a case", render_kw={"maxlength": 254, "type": "search", "autocomplete": "off"},
                    description="A reference, the agency's case number, an account, or the start of an "
                                "agency's name")
    sort = SelectField("Sort by", validate_choice=False,
                       choices=[SelectChoice(key, label) for key, label in SORTS.items()])
    state = SelectField("State", validate_choice=False,
                        choices=[SelectChoice("", "All open cases")]
                        + [SelectChoice(s.value, s.label) for s in State])
    assignee = SelectField("Assignee", validate_choice=False)
    country = SelectField("Agency country", validate_choice=False)
    process_type = SelectField("Legal process", validate_choice=False,
                               choices=[SelectChoice("", "Any")]
                               + [SelectChoice(p.value, p.label) for p in ProcessType])
    emergency = SelectField("Emergency", choices=YES_NO, validate_choice=False)
    ndo = SelectField("Non-disclosure order", choices=YES_NO, validate_choice=False)
    due_soon = BooleanField("Due within 48 hours", render_kw={"value": "yes"})
    overdue = BooleanField("Overdue", render_kw={"value": "yes"})


def post_text(body_cls, write, page, field: str, done: str, done_url: str):
    """A form of one text field (a message, a note): checked against `body_cls`,
    written by `write(text)` and committed, then back to `done_url` with `done`.
    A refusal rolls back and shows `page(status, ...)` again with `<field>_error`
    beside the field and `<field>_text`, the text as typed."""
    typed = request.form.get("text", "")
    try:
        write(validate(body_cls, {"text": typed}).text)
        db.session.commit()
    except (InvalidInput, Conflict) as exc:
        db.session.rollback()
        return page(status_of(exc), **{f"{field}_error": exc.message, f"{field}_text": typed})
    flash(done, "ok")
    return redirect(done_url, 303)
