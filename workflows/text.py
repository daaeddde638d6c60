"""Free text people give us (names, identifiers, addresses), checked before it
reaches the database: PostgreSQL refuses NUL in text, no driver can encode an
unpaired surrogate (JSON allows "\\ud800"), and a control character in a name is
a mistake or a trick. Refused here, it is a message beside the field, not a 500."""

import unicodedata
from datetime import UTC, datetime

from workflows.errors import InvalidInput

# Unicode's bidirectional formatting characters. The embeddings and overrides
# (U+202A-U+202E) and isolates (U+2066-U+2069) reorder what follows them: with them a
# name ending "\u202efdp.exe" shows as "exe.pdf". They are refused in every text people
# give us, as control characters are; the schema's patterns say the same
# (workflows.schema). The marks (U+200E, U+200F, U+061C) only steer neutral
# characters and may come with right-to-left text, so only file names refuse them too.
BIDI_REORDERING = "\u202a-\u202e\u2066-\u2069"  # as a regular expression's class
BIDI_FORMATTING = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_REORDERING = frozenset(c for c in BIDI_FORMATTING if c not in "\u200e\u200f\u061c")


def reorders(text: str) -> bool:
    """Whether the text holds a character that reorders its display."""
    return any(c in _REORDERING for c in text)


def encodable(value: str) -> bool:
    """False for strings holding unpaired surrogates, which UTF-8 cannot encode."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def storable(value: str) -> bool:
    """True if every engine can store the string: encodable as UTF-8, no NUL."""
    return encodable(value) and "\x00" not in value


def whole_number(raw, max_value: int) -> int | None:
    """A positive whole number written in ASCII digits (str.isdigit also accepts
    "²" and int() refuses 5,000 digits), or None."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw if 0 < raw <= max_value else None
    if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit() or len(raw) > len(str(max_value)):
        return None
    value = int(raw)
    return value if 0 < value <= max_value else None


def clean_text(
    raw: str | None, *, field: str, label: str, max_length: int, multiline: bool = False
) -> str:
    """The text stripped of surrounding spaces, or InvalidInput naming `field`.
    `label` is the plural the message speaks of ("Names"). Multi-line text (notes)
    may hold line breaks and tabs, and no other control character."""
    text = (raw or "").strip()
    if multiline:
        text = text.replace("\r\n", "\n")
    if not encodable(text):
        raise InvalidInput(f"{label} must be valid Unicode text.", reasons=[field])
    allowed = "\n\t" if multiline else ""
    if any(unicodedata.category(c) == "Cc" and c not in allowed for c in text):
        raise InvalidInput(
            f"{label} may not contain control characters (line breaks, tabs, NUL).",
            reasons=[field],
        )
    if reorders(text):
        raise InvalidInput(
            f"{label} may not contain characters that reorder how text is displayed (bidirectional "
            "overrides, embeddings and isolates).", reasons=[field],
        )
    if len(text) > max_length:
        raise InvalidInput(f"{label} have at most {max_length} characters.", reasons=[field])
    return text


def iso_utc(value: datetime | None) -> str | None:
    """A time as every JSON we write or store holds it: ISO 8601 in UTC, ending in Z."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None
