"""The building blocks of every declared JSON body: text, numbers, days and times
that validate input and say in the OpenAPI document exactly what they accept, and
one translation of a validation failure into the field-by-field InvalidInput every
door answers with.

Every rule lives in the schema as a constraint (a length, a pattern, a minimum),
never only in code, so the document states what the server enforces. The one
exception is what JSON text cannot carry: an unpaired surrogate ("\\ud800") is
valid JSON but not Unicode, and is refused here with the other text checks."""

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from workflows.errors import InvalidInput
from workflows.text import BIDI_REORDERING, encodable

# Unicode's control characters (category Cc), the characters that reorder display
# (workflows.text.BIDI_REORDERING), and the spaces str.strip() removes.
CONTROL = "\x00-\x1f\x7f-\x9f" + BIDI_REORDERING
SPACE = " \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
LINE = f"^[^{CONTROL}]*$"
FILLED_LINE = f"^[^{CONTROL}]*[^{CONTROL}{SPACE}][^{CONTROL}]*$"
# Multi-line text (notes) may hold line breaks (LF or CRLF) and tabs, no other control.
MULTILINE = f"^(?:[^{CONTROL}]|\\n|\\t|\\r\\n)*$"
FILLED_MULTILINE = (f"^(?:[^{CONTROL}]|\\n|\\t|\\r\\n)*[^{CONTROL}{SPACE}]"
                    f"(?:[^{CONTROL}]|\\n|\\t|\\r\\n)*$")
# A calendar date (the schema cannot know February has no 30th; the server tells).
_DATE = r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
DAY_PATTERN = f"^{_DATE}$"
# RFC 3339 date and time, to the microsecond; a time without a zone is read as UTC.
MOMENT_PATTERN = (f"^{_DATE}" r"T(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?"
                  r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?$")
PATTERN_MESSAGES = {
    LINE: "{name} may not contain control characters (line breaks, tabs, NUL) or bidirectional "
          "overrides.",
    FILLED_LINE: "{name} may not be blank, nor contain control characters (line breaks, tabs, NUL) or "
                 "bidirectional overrides.",
    MULTILINE: "{name} may contain line breaks and tabs but no other control character, and no "
               "bidirectional override.",
    FILLED_MULTILINE: "{name} may not be blank, and may contain line breaks and tabs but no other "
                      "control character, and no bidirectional override.",
    DAY_PATTERN: "{name} must be a date written YYYY-MM-DD.",
    MOMENT_PATTERN: "{name} must be a date and time such as 2026-03-02T10:00:00Z.",
}


def unicode_text(value: str) -> str:
    if not encodable(value):
        raise PydanticCustomError("unicode", "{name} must be valid Unicode text.")
    return value


def _clean(value: str) -> str:
    return unicode_text(value).strip().replace("\r\n", "\n")


def text(max_length: int, *, filled: bool = False, multiline: bool = False, **extra) -> Any:
    """A string of at most `max_length` characters as sent, stripped of surrounding
    spaces once accepted. `filled`: not blank. `multiline`: line breaks and tabs."""
    pattern = {(False, False): LINE, (True, False): FILLED_LINE,
               (False, True): MULTILINE, (True, True): FILLED_MULTILINE}[filled, multiline]
    return Annotated[str, Field(max_length=max_length, pattern=pattern, min_length=1 if filled else 0,
                                **extra), AfterValidator(_clean)]


def _whole(value):
    # JSON has one number type: 3.0 is the integer 3 (JSON Schema agrees), and
    # false is not 0.
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "{name} must be a whole number.")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, int):
        raise PydanticCustomError("int_type", "{name} must be a whole number.")
    return value


def whole(minimum: int, maximum: int, **extra) -> Any:
    # The bounds come first: after a BeforeValidator they would reach the document
    # under pydantic's own names (ge, le), which JSON Schema does not know.
    return Annotated[int, Field(ge=minimum, le=maximum, **extra), BeforeValidator(_whole)]


def _day(value):
    if isinstance(value, str) and re.fullmatch(DAY_PATTERN, value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise PydanticCustomError("day", "{name} must be a date written YYYY-MM-DD.")


def _moment(value):
    if isinstance(value, str) and re.fullmatch(MOMENT_PATTERN, value):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            # A time without a zone is read as UTC, the zone every stored time is in.
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
        except (ValueError, OverflowError):  # no such day, or a time UTC cannot hold
            pass
    raise PydanticCustomError("moment", "{name} must be a date and time such as 2026-03-02T10:00:00Z.")


Day = Annotated[date, BeforeValidator(_day), WithJsonSchema(
    {"type": "string", "format": "date", "pattern": DAY_PATTERN})]
# Not "format: date-time": that requires a zone, and a time without one is accepted.
Moment = Annotated[datetime, BeforeValidator(_moment), WithJsonSchema(
    {"type": "string", "pattern": MOMENT_PATTERN,
     "description": "RFC 3339 date and time; without a zone it is read as UTC"})]


class Body(BaseModel):
    """A request body: unknown keys are refused, never ignored (a `state` sent
    with a demand must not pass unnoticed)."""

    model_config = ConfigDict(extra="forbid")
    WHAT: ClassVar[str] = "the body"  # how messages name the body as a whole
    LEAD: ClassVar[str] = ""  # what a refusal's message starts with ("The demand was not logged: ")
    MESSAGES: ClassVar[dict[str, str]] = {}  # field -> the message for any problem with it


B = TypeVar("B", bound=Body)


def _field_name(loc: tuple) -> str:
    return ".".join(str(part) for part in loc if not isinstance(part, int)) or "body"


def _message(error: dict, model: type[Body]) -> tuple[str, str]:
    """(field, message) for one validation error. A model's MESSAGES, keyed by
    "field:kind" or by field, say it in the domain's words."""
    kind, loc = error["type"], error["loc"]
    if kind == "extra_forbidden":
        parent = _field_name(loc[:-1])
        name = str(loc[-1]) if parent == "body" else f"{parent}.{loc[-1]}"
        message = f"{loc[-1]!r} is not a field of {model.WHAT if parent == 'body' else parent}."
    else:
        name = _field_name(loc)
        message = _plain(kind, name, error)
    return name, model.MESSAGES.get(f"{name}:{kind}", model.MESSAGES.get(name, message))


def _plain(kind: str, name: str, error: dict) -> str:
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return f"{name} is required."
    if kind in ("unicode", "int_type", "day", "moment"):
        return error["msg"].format(name=name)
    if kind == "string_pattern_mismatch":
        return PATTERN_MESSAGES.get(ctx.get("pattern"), "{name} is not in the expected form.").format(
            name=name)
    if kind == "string_too_long":
        return f"{name} has at most {ctx['max_length']} characters."
    if kind == "string_too_short":
        return f"{name} may not be empty."
    if kind == "enum":
        return f"{name}: {error['input']!r} is not one of {ctx['expected']}."
    if kind in ("greater_than_equal", "less_than_equal"):
        return f"{name} is out of range ({error['msg'].lower()})."
    if kind == "too_short":
        return f"{name} needs at least {ctx['min_length']} item(s)."
    if kind == "too_long":
        return f"{name} holds at most {ctx['max_length']} items."
    readable = {"string_type": "text", "bool_type": "true or false", "list_type": "a list",
                "model_type": "an object", "dict_type": "an object", "model_attributes_type": "an object"}
    if kind in readable:
        return f"{name} must be {readable[kind]}."
    return f"{name}: {error['msg']}."


def refusal(exc: ValidationError, model: type[Body]) -> InvalidInput:
    """The InvalidInput for a body that failed its schema: one message per field."""
    fields: dict[str, str] = {}
    for error in exc.errors():
        name, message = _message(error, model)
        fields.setdefault(name, message)
    return InvalidInput(model.LEAD + " ".join(fields.values()), reasons=list(fields), fields=fields)


def validate(model: type[B], data) -> B:
    """The body as `model`, or InvalidInput naming each bad field."""
    if not isinstance(data, dict):
        message = f"Send {model.WHAT} as a JSON object."
        raise InvalidInput(model.LEAD + message, reasons=["body"], fields={"body": message})
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise refusal(exc, model) from None
