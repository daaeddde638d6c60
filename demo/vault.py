"""Demo customer data: what the vault of each demo account holds, so that a demo
disclosure produces a package worth opening.

Every demo account gets a subscriber profile, sign-ins and message metadata
(non-content), messages and stored files (content), spread from 2025-07-01 to
`now`. One account is large: about DEMO_LARGE_ACCOUNT_MB (config; default 256) of
stored files of 1-4 MB each, to show how packaging and the agency's download hold
up. It is Northwind's `acct-330044`, because the demo cases disclose its content
(Contoso's `acct-100200` is disclosed too, but only its subscriber and non-content
records). Set the size small in tests, or 0 for an ordinary account.

Records go in through disclosure.deposit(), the vault's one writer. Each
account's records come from a random.Random seeded with its identifier, so the
same `now` gives the same vault whichever accounts already exist. All addresses
are under .example (RFC 2606) and all IPs in documentation ranges (RFC 5737,
RFC 3849)."""

import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from flask import current_app
from sqlalchemy import select

from demo.people import CUSTOMERS
from models import Account, Category, Customer, CustomerKind, db
from workflows import disclosure
from workflows.disclosure import Deposit

SEED = 2026
SINCE = datetime(2025, 7, 1, tzinfo=UTC)
MB = 1024 * 1024
LARGE_ACCOUNT = "acct-330044"
DEFAULT_LARGE_ACCOUNT_MB = 256
# deposit() holds one batch in memory; a batch is a few large files or many small records.
BATCH_RECORDS = 200
BATCH_BYTES = 32 * MB
LARGE_FILE = (1 * MB, 4 * MB)
SMALL_FILE_LOG = (math.log(4 * 1024), math.log(300 * 1024))
MESSAGES_PER_LARGE_MB = 8
CSV_HEADER = "date,category,vendor,amount,currency\n"

FIRST_NAMES = ["Alex", "Sam", "Priya", "Lukas", "Chloe", "Tom", "Hana", "Marco", "Sofia", "Noah", "Yuki",
               "Lea", "Omar", "Grace", "Felix", "Aiko", "Paul", "Nina"]
LAST_NAMES = ["Walker", "Becker", "Moreau", "Tanaka", "Bianchi", "Singh", "Novak", "Evans", "Keller",
              "Laurent", "Ito", "Conti", "Hughes", "Brennan"]
PEOPLE_DOMAINS = ["mail.example", "post.example", "inbox.example"]
PARTNER_DOMAINS = ["supplier.example", "logistics.example", "bank.example", "lawfirm.example",
                   "travel.example", "shop.example"]

OPENERS = ["Hi {name},", "Hello {name},", "Dear {name},", "Morning {name},", "{name},"]
ACTIONS = ["I have attached", "Could you look over", "We still need", "Please send me", "I finally finished",
           "Can we go through", "Thanks for sharing", "I forgot to mention", "Let me know what you think of",
           "Could you forward", "I printed", "We signed off"]
THINGS = ["the updated budget", "the draft contract", "the shipping schedule", "the slides for Monday",
          "the March invoice", "the photos from the trip", "the meeting notes", "the supplier list",
          "the new floor plan", "the insurance forms", "the holiday rota", "the quarterly figures",
          "the booking confirmation", "the tenancy agreement"]
WHEN = ["before Friday.", "when you have a minute.", "by the end of the day.", "for the board meeting.",
        "so we can close this out.", "if that still works for you.", "as we discussed on the phone.",
        "next week.", "before the auditors arrive.", "over the weekend."]
CLOSERS = ["Thanks,", "Best regards,", "Cheers,", "Talk soon,", "Kind regards,", "See you then,"]
SUBJECTS = ["Quarterly figures", "Re: invoice {n}", "Lunch on {day}?", "Travel plans", "Contract draft v{v}",
            "Meeting notes {day}", "Fwd: shipping confirmation {n}", "Photos from the weekend",
            "Budget review", "Re: Re: floor plan", "Your order {n}", "Insurance renewal", "Quick question",
            "Minutes of {day}'s call", "Holiday rota"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]

USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 "
    "Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 "
    "Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 15; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Mobile "
    "Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "MailClient/4.2 (IMAP; Windows 11)",
]
MFA_METHODS = ["authenticator_app", "authenticator_app", "security_key", "sms"]
PLANS = {CustomerKind.ENTERPRISE: ["Business Standard", "Business Premium"],
         CustomerKind.CONSUMER: ["Free", "Personal 100 GB", "Family 2 TB"]}
# Phone numbers: the US and UK ones are in ranges set aside for fiction; the others are invented.
PHONES = {"US": "+1 202 555 01{:02d}", "GB": "+44 7700 900{:03d}", "DE": "+49 30 5550 {:04d}",
          "AU": "+61 491 570 {:03d}", "IT": "+39 02 5550 {:04d}", "FR": "+33 1 55 50 {:04d}",
          "JP": "+81 3 5550 {:04d}"}
EXPENSE_KINDS = ["travel", "software", "office supplies", "catering", "hardware", "training", "postage"]
VENDORS = ["Northwind Supplies", "Blue Yonder Airlines", "Wide World Importers", "Adventure Works",
           "Litware Inc.", "Proseware", "Coho Winery", "Lucerne Publishing"]


@dataclass(frozen=True)
class Holder:
    """Whose account it is, as far as the demo's records need to know."""

    account_id: int
    identifier: str
    name: str
    country: str
    kind: CustomerKind


def configured_mb() -> int:
    """DEMO_LARGE_ACCOUNT_MB from the app's config (default 256)."""
    return int(current_app.config.get("DEMO_LARGE_ACCOUNT_MB", DEFAULT_LARGE_ACCOUNT_MB))


def seed_vault(now: datetime, large_account_mb: int) -> int:
    """Fill the vault of every demo account that holds no records yet; returns how
    many records were written. Commits after each account, so an interrupted seed
    leaves each account whole or empty, and the next run fills the empty ones."""
    identifiers = [identifier for *_, accounts, _ in CUSTOMERS for identifier in accounts]
    rows = db.session.execute(
        select(Account.id, Account.identifier, Customer.name, Customer.country, Customer.kind)
        .join(Customer, Account.customer_id == Customer.id)
        .where(Account.identifier.in_(identifiers)).order_by(Account.id)
    ).all()
    written = 0
    for account_id, identifier, name, country, kind in rows:
        if disclosure.vault_size(account_id)[0]:
            continue
        extra = large_account_mb * MB if identifier == LARGE_ACCOUNT else 0
        written += fill_account(Holder(account_id, identifier, name, country, kind), now, extra)
        db.session.commit()
    return written


def fill_account(holder: Holder, now: datetime, extra_bytes: int = 0) -> int:
    """Deposit one account's demo records (in the caller's transaction), plus about
    `extra_bytes` of large stored files and a matching number of messages; returns
    how many records. Memory stays at one batch whatever the size."""
    rng = random.Random(f"{SEED}:{holder.identifier}")  # noqa: S311 (invented demo data, repeatable on purpose)
    records = _Records(rng, holder, now, extra_bytes).all()
    return sum(disclosure.deposit(batch) for batch in _batches(records))


def _batches(records: Iterable[Deposit]) -> Iterator[list[Deposit]]:
    batch, size = [], 0
    for record in records:
        batch.append(record)
        size += len(record.blob or b"")
        if len(batch) >= BATCH_RECORDS or size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


class _Records:
    """One account's records, drawn from its own random generator in a fixed order."""

    def __init__(self, rng: random.Random, holder: Holder, now: datetime, extra_bytes: int):
        self.rng, self.holder, self.now, self.extra = rng, holder, now, extra_bytes
        self.large = extra_bytes > 0
        self.span = max((now - SINCE).total_seconds(), 86400.0)
        local = holder.identifier.split("@")[0]
        if holder.kind is CustomerKind.CONSUMER:
            self.person = holder.name
        elif "@" in holder.identifier:
            self.person = f"{local.replace('.', ' ').title()} {rng.choice(LAST_NAMES)}"
        else:
            self.person = f"{holder.name} shared archive"
        self.address = holder.identifier if "@" in holder.identifier else f"{local}@{_domain(holder)}"
        self.contacts = [f"{rng.choice(FIRST_NAMES).lower()}.{rng.choice(LAST_NAMES).lower()}@"
                         f"{rng.choice(PEOPLE_DOMAINS + PARTNER_DOMAINS)}" for _ in range(12)]
        self.home_ips = [_ip(rng) for _ in range(rng.randint(2, 4))]
        self.devices = rng.sample(USER_AGENTS, 2)
        self.mfa = rng.choice(MFA_METHODS)

    def at(self) -> datetime:
        return SINCE + timedelta(seconds=int(self.rng.uniform(0, self.span)))

    def all(self) -> Iterator[Deposit]:
        rng = self.rng
        yield self.profile()
        for _ in range(rng.randint(120, 300)):
            yield self.sign_in()
        for _ in range(rng.randint(200, 600)):
            yield self.message_metadata()
        messages = rng.randint(30, 80) + (self.extra // MB) * MESSAGES_PER_LARGE_MB
        for _ in range(messages):
            yield self.message()
        # The large account's everyday documents count towards its size, so its
        # stored bytes come to what was asked for.
        left = self.extra if self.large else None
        for _ in range(rng.randint(6, 14)):
            size = int(math.exp(rng.uniform(*SMALL_FILE_LOG)))  # most documents are small
            if left is not None:
                size = min(size, left)
            if size > 0:
                document = self.document(size)
                yield document
                left = None if left is None else left - len(document.blob)
        if left and left > 0:
            yield from self.large_files(left)

    # ---- subscriber ------------------------------------------------------------------

    def profile(self) -> Deposit:
        rng, holder = self.rng, self.holder
        created = date(2016, 1, 1) + timedelta(days=rng.randint(0, 3000))
        phone = PHONES.get(holder.country, PHONES["US"])
        return Deposit(holder.account_id, Category.SUBSCRIBER, "profile", None, {
            "name": self.person,
            "recovery_email": f"{self.person.split()[0].lower()}.{rng.randint(10, 99)}@"
                              f"{rng.choice(PEOPLE_DOMAINS)}",
            "phone": phone.format(rng.randint(0, 99)),
            "created": created.isoformat(),
            "billing_country": holder.country,
            "plan": "Enterprise Archive 5 TB" if self.large else rng.choice(PLANS[holder.kind]),
        })

    # ---- non-content -----------------------------------------------------------------

    def sign_in(self) -> Deposit:
        rng = self.rng
        failed = rng.random() < 0.06
        stranger = failed and rng.random() < 0.7  # most failures come from somewhere new
        return Deposit(self.holder.account_id, Category.NON_CONTENT, "sign_in", self.at(), {
            "ip": _ip(rng) if stranger else rng.choice(self.home_ips),
            "user_agent": rng.choice(USER_AGENTS) if stranger else rng.choice(self.devices),
            "result": "failure" if failed else "success",
            "mfa_method": None if failed else self.mfa,
        })

    def message_metadata(self) -> Deposit:
        rng = self.rng
        other = rng.choice(self.contacts)
        sender, recipient = (self.address, other) if rng.random() < 0.45 else (other, self.address)
        return Deposit(self.holder.account_id, Category.NON_CONTENT, "message_metadata", self.at(), {
            "from": sender, "to": recipient, "size": rng.randint(1_200, 2_500_000),
            "message_id": f"<{rng.getrandbits(64):016x}@{sender.split('@')[1]}>",
        })

    # ---- content ------------------------------------------------------------------------

    def message(self) -> Deposit:
        rng = self.rng
        other = rng.choice(self.contacts)
        outgoing = rng.random() < 0.45
        first = (other if outgoing else self.address).split("@")[0].split(".")[0].title()
        lines = [rng.choice(OPENERS).format(name=first), ""]
        for _ in range(rng.randint(1, 3)):
            lines.append(" ".join(self.sentence() for _ in range(rng.randint(1, 4))))
            lines.append("")
        signer = (self.person if outgoing else other.split("@")[0].replace(".", " ").title()).split(" ")[0]
        lines += [rng.choice(CLOSERS), signer]
        subject = rng.choice(SUBJECTS).format(n=rng.randint(1000, 99999), day=rng.choice(DAYS),
                                             v=rng.randint(2, 9))
        return Deposit(self.holder.account_id, Category.CONTENT, "message", self.at(), {
            "from": self.address if outgoing else other, "to": other if outgoing else self.address,
            "subject": subject, "body": "\n".join(lines),
        })

    def sentence(self) -> str:
        rng = self.rng
        return f"{rng.choice(ACTIONS)} {rng.choice(THINGS)} {rng.choice(WHEN)}"

    def document(self, size: int) -> Deposit:
        """A text document or a spreadsheet export of about `size` bytes."""
        at = self.at()
        if self.rng.random() < 0.5:
            name, kind, text = f"expenses-{at:%Y-%m}.csv", "text/csv", self.csv(size)
        else:
            name, kind, text = f"notes-{at:%Y-%m-%d}.txt", "text/plain", self.notes(size)
        return self.file(at, name, kind, text.encode())

    def file(self, at: datetime, name: str, content_type: str, blob: bytes) -> Deposit:
        return Deposit(self.holder.account_id, Category.CONTENT, "file", at,
                       {"name": name, "content_type": content_type}, blob=blob)

    def notes(self, size: int) -> str:
        parts, length = [], 0
        while length < size:
            paragraph = " ".join(self.sentence() for _ in range(self.rng.randint(3, 8))) + "\n\n"
            parts.append(paragraph)
            length += len(paragraph)
        return _whole("".join(parts), size, " ")

    def csv(self, size: int) -> str:
        parts, length = [CSV_HEADER], len(CSV_HEADER)
        while length < size:
            row = self.expense()
            parts.append(row)
            length += len(row)
        return _whole("".join(parts), size, "\n")

    def expense(self) -> str:
        rng = self.rng
        return (f"{self.at():%Y-%m-%d},{rng.choice(EXPENSE_KINDS)},{rng.choice(VENDORS)},"
                f"{rng.randint(5, 4000)}.{rng.randint(0, 99):02d},EUR\n")

    # ---- the large account's bulk -----------------------------------------------------

    def large_files(self, total: int) -> Iterator[Deposit]:
        """Files of 1-4 MB up to `total` bytes: mostly photos, scans and archives
        (random bytes behind the format's magic number, incompressible like the real
        thing), some CSV exports (drawn from a pool of lines, cheap to make in bulk)."""
        rng, left, n = self.rng, total, 0
        rows = [self.expense() for _ in range(400)]
        while left > 0:
            size = min(left, rng.randint(*LARGE_FILE))
            at, n = self.at(), n + 1
            pick = rng.random()
            if pick < 0.45:
                head, tail = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", b"\xff\xd9"
                name, kind = f"IMG_{n:05d}.jpg", "image/jpeg"
            elif pick < 0.7:
                head, tail = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", b"\n%%EOF\n"
                name, kind = f"scan-{at:%Y%m%d}-{n}.pdf", "application/pdf"
            elif pick < 0.85:
                head, tail = b"PK\x03\x04\x14\x00\x00\x00\x08\x00", b""
                name, kind = f"backup-{at:%Y%m%d}-{n}.zip", "application/zip"
            else:
                text = CSV_HEADER + "".join(rng.choices(rows, k=size // 40 + 1))
                blob = _whole(text, size, "\n").encode()
                yield self.file(at, f"ledger-{at:%Y-%m}-{n}.csv", "text/csv", blob)
                left -= len(blob)
                continue
            blob = (head + rng.randbytes(max(size - len(head) - len(tail), 0)) + tail)[:size]
            yield self.file(at, name, kind, blob)
            left -= len(blob)


def _whole(text: str, size: int, separator: str) -> str:
    """At most `size` characters of text, ending after a whole line or word."""
    cut = text[:size]
    end = cut.rfind(separator)
    return cut[:end + 1] if end > 0 and len(text) > size else cut


def _domain(holder: Holder) -> str:
    if holder.kind is CustomerKind.CONSUMER:
        return "mail.example"
    return holder.name.split()[0].lower() + ".example"


def _ip(rng: random.Random) -> str:
    """An address from the ranges reserved for documentation."""
    if rng.random() < 0.2:
        return f"2001:db8:{rng.getrandbits(16):x}:{rng.getrandbits(16):x}::{rng.getrandbits(16):x}"
    return f"{rng.choice(['192.0.2', '198.51.100', '203.0.113'])}.{rng.randint(1, 254)}"
