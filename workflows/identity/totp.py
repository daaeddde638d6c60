"""Time-based one-time passwords (RFC 6238), each code accepted once."""

from datetime import datetime
from io import BytesIO

import pyotp
import segno
from sqlalchemy import or_, update
from sqlalchemy.orm.attributes import set_committed_value

from models import User, db

STEP_SECONDS = 30  # RFC 6238 section 5.2 default
DRIFT_STEPS = 1  # accept the previous and next code for clock drift
ISSUER = "Due Process"


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(
        name=email, issuer_name=ISSUER
    )


def qr_svg(uri: str) -> str:
    """The provisioning URI as an inline SVG (no script, no external fetch)."""
    out = BytesIO()
    segno.make(uri, error="m").save(
        out, kind="svg", scale=5, border=2, xmldecl=False, svgns=True,
        title="QR code for your authenticator app", dark="#111", light="#fff",
    )
    return out.getvalue().decode()


def current_code(secret: str, now: datetime) -> str:
    return pyotp.TOTP(secret, interval=STEP_SECONDS).at(now)


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code equals `code`, within the drift window."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    step = totp.timecode(now)
    for candidate in range(step - DRIFT_STEPS, step + DRIFT_STEPS + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(candidate), code):
            return candidate
    return None


def consume(user: User, code: str, now: datetime) -> bool:
    """True when `code` is valid now and no code of this or a later step was used
    before. The conditional UPDATE makes replay impossible even between two
    simultaneous requests: only one of them changes the row."""
    if not user.totp_secret:
        return False
    step = matching_step(user.totp_secret, code, now)
    if step is None:
        return False
    result = db.session.execute(
        update(User)
        .where(User.id == user.id)
        .where(or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    set_committed_value(user, "totp_last_step", step)
    return True
