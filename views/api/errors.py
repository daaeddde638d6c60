"""The one error body of the API (DESIGN section 9)."""

from pydantic import BaseModel, Field


class Error(BaseModel):
    """Every refusal: a code for programs, a message for people, and the fields
    or conditions it concerns."""

    error: str = Field(description="machine-readable code, such as invalid_input or illegal_transition")
    message: str = Field(description="what went wrong, for a person")
    reasons: list[str] = Field(description="the fields or conditions concerned")
    fields: dict[str, str] | None = Field(
        None, description="invalid_input only: each bad field (dotted, e.g. legal_process.type) and what "
                          "is wrong with it")
