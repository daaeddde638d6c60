"""E-mail: the SMTP settings and retry policy both outboxes share (customer notices
and account mail), and the account-mail outbox itself."""

from workflows.mail.outbox import (
    MAIL_ACTOR,
    MailPass,
    attempt,
    claim,
    deliver,
    enqueue,
    of_user,
    park_unsent,
    pass_clock,
    retry_or_fail,
    send_pass,
    unpark,
)
from workflows.mail.smtp import MailSettings, Permanent, Policy, Transient, classify, smtp_send

__all__ = [
    "MAIL_ACTOR",
    "MailPass",
    "MailSettings",
    "Permanent",
    "Policy",
    "Transient",
    "attempt",
    "claim",
    "classify",
    "deliver",
    "enqueue",
    "of_user",
    "park_unsent",
    "pass_clock",
    "retry_or_fail",
    "send_pass",
    "smtp_send",
    "unpark",
]
