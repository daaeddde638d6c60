"""argon2id password hashing and the password policy."""

import contextlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

from workflows.errors import InvalidInput
from workflows.text import storable

MIN_LENGTH = 12  # NIST SP 800-63B 5.1.1.2 asks for at least 8; we ask more of staff
MAX_LENGTH = 256

# RFC 9106's second recommended profile (argon2id, 64 MiB, t=3, p=4).
PROFILES = {
    "rfc9106": {"time_cost": 3, "memory_cost": 64 * 1024, "parallelism": 4},
    # For the test suite only: the same algorithm, cheaper, so hundreds of users hash fast.
    "fast": {"time_cost": 1, "memory_cost": 1024, "parallelism": 1},
}


def init_app(app) -> None:
    profile = app.config["PASSWORD_HASH_PROFILE"]
    app.extensions["password_hasher"] = PasswordHasher(**PROFILES[profile])


def _hasher() -> PasswordHasher:
    return current_app.extensions["password_hasher"]


def check_policy(password: str, email: str = "") -> None:
    if not storable(password):
        raise InvalidInput("Passwords must be valid Unicode text without NUL.", reasons=["password"])
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"Passwords need at least {MIN_LENGTH} characters.", reasons=["password"])
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"Passwords may have at most {MAX_LENGTH} characters.", reasons=["password"])
    if email and password.strip().lower() == email.strip().lower():
        raise InvalidInput("The password must not be the e-mail address.", reasons=["password"])


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify(password_hash: str | None, password: str) -> bool:
    """Always does the full argon2 work, so an unknown user costs the same time."""
    if password_hash is None:
        if "password_dummy_hash" not in current_app.extensions:  # made once, not per call
            current_app.extensions["password_dummy_hash"] = _hasher().hash("not-a-real-password")
        password_hash = current_app.extensions["password_dummy_hash"]
        with contextlib.suppress(VerificationError, InvalidHashError):
            _hasher().verify(password_hash, password)
        return False
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)
