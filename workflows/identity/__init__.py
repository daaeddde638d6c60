"""Who is who: staff and customer users, passwords (argon2id), TOTP, sessions,
sign-in limits, and the directory of customers and agencies with their tokens."""

from workflows.identity.auth import (
    CODE_FAILURE,
    GENERIC_FAILURE,
    NewSession,
    add_second_factor,
    change_password,
    check_code,
    check_password,
    confirm_enrolment,
    end_session,
    normalise_email,
    reauthenticate,
    recently_authenticated,
    resume_session,
    revoke_sessions,
    start_session,
)
from workflows.identity.directory import (
    PHONE_MAX,
    PHONE_PATTERN,
    IssuedToken,
    authenticate_token,
    create_agency,
    create_customer,
    issue_token,
    normalise_phone,
    parse_country,
    parse_phone,
    revoke_tokens,
    set_agency_phone,
)
from workflows.identity.passwords import MAX_LENGTH as PASSWORD_MAX_LENGTH
from workflows.identity.passwords import MIN_LENGTH as PASSWORD_MIN_LENGTH
from workflows.identity.passwords import check_policy, hash_password
from workflows.identity.passwords import init_app as init_passwords
from workflows.identity.totp import STEP_SECONDS, current_code, new_secret, provisioning_uri, qr_svg
from workflows.identity.users import (
    EMAIL_MAX,
    ID_MAX,
    NAME_MAX,
    CreatedUser,
    create_user,
    get_user,
    list_users,
    offered_secret,
    parse_email,
    parse_role,
    reset_mfa,
    set_active,
)

__all__ = [
    "CODE_FAILURE", "EMAIL_MAX", "GENERIC_FAILURE", "ID_MAX", "NAME_MAX", "PASSWORD_MAX_LENGTH",
    "PASSWORD_MIN_LENGTH", "PHONE_MAX", "PHONE_PATTERN", "STEP_SECONDS", "CreatedUser", "IssuedToken",
    "NewSession", "add_second_factor", "authenticate_token", "change_password", "check_code",
    "check_password", "check_policy", "confirm_enrolment", "create_agency", "create_customer",
    "create_user", "current_code", "end_session", "get_user", "hash_password", "init_passwords",
    "issue_token", "list_users", "new_secret", "normalise_email", "normalise_phone", "offered_secret",
    "parse_country", "parse_email", "parse_phone", "parse_role", "provisioning_uri", "qr_svg",
    "reauthenticate", "recently_authenticated", "reset_mfa", "resume_session", "revoke_sessions",
    "revoke_tokens", "set_active", "set_agency_phone", "start_session",
]
