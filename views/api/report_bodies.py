"""A published transparency report as the API gives it (DESIGN sections 6 and 9).
The figures' names come from the report's own lists, so a figure added there
reaches the document by itself."""

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from models import ProcessType
from workflows import reports

_COUNT = (int, Field(ge=0))
_LATER_COUNT = (int | None, Field(None, ge=0, description="absent from revisions published before it was "
                                                          "counted"))

Figures = create_model("Figures", __config__=ConfigDict(extra="forbid"),
                       __doc__="The counts for one country, or in total.",
                       **{name: _LATER_COUNT if name in reports.LATER_FIGURES else _COUNT
                          for name in reports.FIGURES})
EnterpriseFigures = create_model("EnterpriseFigures", __config__=ConfigDict(extra="forbid"),
                                 __doc__="Requests naming an enterprise customer's accounts.",
                                 **{name: _COUNT for name in reports.ENTERPRISE_FIGURES})
PreservationFigures = create_model("PreservationFigures", __config__=ConfigDict(extra="forbid"),
                                   __doc__="Preservation requests for one country.",
                                   **{name: _COUNT for name in reports.PRESERVATION_FIGURES})
Band = Field(pattern=r"^[0-9]+-[0-9]+$", description="a band of 500, such as 0-499")


class BandedFigures(BaseModel):
    requests: str = Band
    accounts: str = Band


class NationalSecurityDeferred(BaseModel):
    status: Literal["deferred"]
    available_from: date = Field(description="180 days after the period ends")


class NationalSecurityPublished(BaseModel):
    status: Literal["published"]
    nsl: BandedFigures
    fisa_content: BandedFigures
    fisa_non_content: BandedFigures


class Preservations(BaseModel):
    """Preservation requests, counted apart from the production demands: how many
    were received, extended on a renewed request, followed by a production demand
    that named them, and ran out."""

    model_config = ConfigDict(extra="forbid")

    requests: int = Field(ge=0)
    extended: int = Field(ge=0)
    converted: int = Field(ge=0, description="followed by a production demand that named it")
    expired: int = Field(ge=0)
    by_country: dict[str, PreservationFigures] = Field(description="by the agencies' ISO 3166-1 country "
                                                                   "codes")


class Checkpoint(BaseModel):
    """The audit chain's head when the report was published, signed with the
    provider's key (public at /transparency/checkpoint-key.pem)."""

    audit_seq: int
    audit_hash: str = Field(pattern="^[0-9a-f]{64}$")
    signed_at: str
    algorithm: Literal["Ed25519"]
    key_id: str
    signature: str = Field(description="base64")


class Report(BaseModel):
    """A period's newest published revision."""

    model_config = ConfigDict(extra="forbid")

    period: str = Field(pattern=reports.PERIOD_PATTERN)
    starts_on: date
    ends_on: date
    revision: int = Field(ge=1)
    published_at: str
    reason: str | None = Field(description="why this revision corrects the one before")
    totals: Figures
    by_country: dict[str, Figures] = Field(description="by the agencies' ISO 3166-1 country codes")
    by_process: dict[ProcessType, int] = Field(description="requests by legal process (national-security "
                                                           "processes only in national_security)")
    enterprise: EnterpriseFigures
    national_security: NationalSecurityDeferred | NationalSecurityPublished = Field(discriminator="status")
    preservation: Preservations | None = Field(None, description=(
        "preservation requests (not counted in the figures above); absent from revisions published before "
        "they were counted"))
    checkpoint: Checkpoint
