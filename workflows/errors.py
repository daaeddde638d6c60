"""Domain errors. Views turn each kind into one HTTP status and a message a
person can act on."""


class WorkflowError(Exception):
    code = "error"

    def __init__(
        self, message: str, *, reasons: list[str] | None = None, code: str | None = None,
        fields: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.reasons = reasons or []
        self.fields = fields or {}  # field name -> what is wrong with it, for forms
        if code:
            self.code = code


class InvalidInput(WorkflowError):
    """The request was understood but its content is wrong (fields, formats)."""

    code = "invalid_input"


class InvalidCredentials(WorkflowError):
    code = "invalid_credentials"


class RateLimited(WorkflowError):
    code = "rate_limited"


class NotAllowed(WorkflowError):
    code = "forbidden"


class NotFound(WorkflowError):
    code = "not_found"


class Conflict(WorkflowError):
    """The thing changed under the caller, or already is as asked."""

    code = "conflict"


class TooLarge(WorkflowError):
    code = "too_large"


class ReauthRequired(WorkflowError):
    """The action needs a sign-in within the last few minutes."""

    code = "reauth_required"


class Gone(WorkflowError):
    """It existed, and may not be had again (a used or expired link)."""

    code = "gone"


class PackageFailed(WorkflowError):
    """A production package could not be written; nothing was disclosed."""

    code = "package_failed"
