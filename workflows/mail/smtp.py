"""Talking to the mail server: settings from the configuration, how hard to
retry, and what an SMTP failure means (worth retrying, or final)."""

import smtplib
import ssl
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage


@dataclass(frozen=True)
class MailSettings:
    """SMTP settings from the configuration (MAIL_*); None when no server is set."""

    server: str
    port: int
    use_tls: bool  # STARTTLS after connecting
    use_ssl: bool  # TLS from the first byte (port 465)
    username: str | None
    password: str | None
    sender: str
    timeout: float

    @classmethod
    def from_config(cls, config) -> "MailSettings | None":
        if not config.get("MAIL_SERVER"):
            return None
        use_ssl = _flag(config.get("MAIL_USE_SSL"))
        use_tls = _flag(config.get("MAIL_USE_TLS"))
        port = int(config.get("MAIL_PORT") or (465 if use_ssl else 587 if use_tls else 25))
        return cls(server=config["MAIL_SERVER"], port=port, use_tls=use_tls, use_ssl=use_ssl,
                   username=config.get("MAIL_USERNAME") or None, password=config.get("MAIL_PASSWORD") or None,
                   sender=config.get("MAIL_FROM") or "notices@due-process.invalid",
                   timeout=float(config.get("MAIL_TIMEOUT") or 30))


def _flag(value) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on") if value is not None else False


@dataclass(frozen=True)
class Policy:
    """How hard the relay tries: the first retry after `base`, doubling up to `cap`,
    `failed` after `max_attempts`; a claim lasts `lease`."""

    max_attempts: int = 8
    base: timedelta = timedelta(minutes=1)
    cap: timedelta = timedelta(hours=6)
    lease: timedelta = timedelta(minutes=5)
    batch: int = 50

    @classmethod
    def from_config(cls, config) -> "Policy":
        return cls(max_attempts=int(config.get("NOTICE_MAX_ATTEMPTS") or 8),
                   base=timedelta(seconds=float(config.get("NOTICE_RETRY_SECONDS") or 60)),
                   lease=timedelta(seconds=float(config.get("NOTICE_LEASE_SECONDS") or 300)))

    def backoff(self, attempts: int) -> timedelta:
        doublings = min(attempts - 1, 30)  # past 30 the cap has long been reached
        return min(self.base * 2 ** doublings, self.cap)


class Transient(Exception):
    """Worth trying again later."""


class Permanent(Exception):
    """The server refused the message for good."""


def _text(reply) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def classify(exc: Exception) -> Exception:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        text = "; ".join(f"{addr}: {code} {_text(msg)}" for addr, (code, msg) in exc.recipients.items())
        return Transient(text) if any(400 <= c < 500 for c in codes) else Permanent(text)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return Transient(f"SMTP login refused ({exc.smtp_code}): check MAIL_USERNAME and MAIL_PASSWORD")
    if isinstance(exc, smtplib.SMTPResponseException):
        text = f"{exc.smtp_code} {_text(exc.smtp_error)}"
        return Permanent(text) if 500 <= exc.smtp_code < 600 else Transient(text)
    return Transient(f"{type(exc).__name__}: {exc}")  # refused connection, timeout, disconnect


def smtp_send(settings: MailSettings, message: EmailMessage) -> dict:
    """Send one message; return the recipients refused (some may be, if not all)."""
    context = ssl.create_default_context()  # certificates and host names are checked, either way
    if settings.use_ssl:
        smtp = smtplib.SMTP_SSL(settings.server, settings.port, timeout=settings.timeout, context=context)
    else:
        smtp = smtplib.SMTP(settings.server, settings.port, timeout=settings.timeout)
    with smtp:
        if settings.use_tls:
            smtp.starttls(context=context)
        if settings.username:
            smtp.login(settings.username, settings.password or "")
        return smtp.send_message(message)
