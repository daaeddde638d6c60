"""WTForms for the HTML pages: CSRF token included, errors shown beside fields."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, Regexp

from models import Role


class SignInForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


class CodeForm(FlaskForm):
    code = StringField(
        "Six-digit code",
        validators=[DataRequired(), Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message="Enter the 6 digits.")],
    )


class PasswordChangeForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired()])
    new = PasswordField("New password", validators=[DataRequired(), Length(min=12, max=256)])
    confirm = PasswordField(
        "New password again",
        validators=[DataRequired(), EqualTo("new", message="The two new passwords differ.")],
    )


class NewUserForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Email(), Length(max=254)])
    name = StringField("Full name", validators=[Optional(), Length(max=200)])
    role = SelectField("Role", choices=[SelectChoice(r.value, r.label) for r in Role])
    # The view fills the choices (existing customers, or none) before validation;
    # anything else posted is refused here rather than reaching int() in the view.
    customer_id = SelectField("Customer (customer users only)", coerce=str)
    password = PasswordField(
        "Initial password", validators=[DataRequired(), Length(min=12, max=256)],
        description="At least 12 characters. The user must change it at first sign-in.",
    )


class ActionForm(FlaskForm):
    """A button that changes state: only its CSRF token."""
