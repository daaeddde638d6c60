"""A real SMTP server on loopback (aiosmtpd) for the relay's tests.

It records every message it accepts (envelope, headers, plain-text and HTML
bodies), and can be told to misbehave the way mail servers do: answer the next
messages with a 4xx or 5xx reply, go away altogether (an outage), hold a message
it has received without answering (a relay killed while waiting), or answer
slowly (two relays racing)."""

import asyncio
import email
import email.policy
import re
import socket
import threading
from dataclasses import dataclass

from aiosmtpd.controller import Controller

PORTAL_LINK = re.compile(r"/portal/notices/(\d+)")


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message_id: str
    sender: str
    to: str
    subject: str
    text: str
    html: str

    @property
    def notice_id(self) -> int:
        """The notice this message is about, from its portal link (not from its
        Message-ID, so a test can check the Message-ID independently)."""
        return int(PORTAL_LINK.search(self.text).group(1))


def parse(mail_from: str, rcpt_tos: list[str], raw: bytes) -> Received:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    return Received(
        mail_from=mail_from, rcpt_tos=list(rcpt_tos), message_id=str(message["Message-ID"]),
        sender=str(message["From"]), to=str(message["To"]), subject=str(message["Subject"]),
        text=text.get_content() if text is not None else "",
        html=html.get_content() if html is not None else "",
    )


class Recorder:
    """The aiosmtpd handler. Its hooks run on the server's event loop thread; the
    test thread configures it, so shared state sits behind a lock."""

    def __init__(self):
        self._lock = threading.Lock()
        self.received: list[Received] = []
        self.refused: list[str] = []  # the replies given instead of accepting
        self._fail: list[tuple[str, str]] = []  # (stage, reply) for the next messages
        self._hold_after: int | None = None
        self.holding = threading.Event()  # set once a message is held unanswered
        self._gate = threading.Event()
        self.delay = 0.0

    # ---- telling it how to behave ----------------------------------------------

    def fail_next(self, count: int, reply: str, stage: str = "data") -> None:
        """Answer the next `count` messages with `reply` ("451 4.3.0 Try later"),
        at DATA or at RCPT (the recipient refused)."""
        assert stage in ("data", "rcpt")
        with self._lock:
            self._fail = [(stage, reply)] * count

    def hold_after(self, count: int) -> None:
        """Accept `count` messages normally, then receive the next one in full and
        give no answer until release()."""
        with self._lock:
            self._hold_after = count
            self._gate.clear()
            self.holding.clear()

    def release(self) -> None:
        with self._lock:
            self._hold_after = None
        self._gate.set()

    def message_ids(self) -> list[str]:
        with self._lock:
            return [m.message_id for m in self.received]

    def messages(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    # ---- aiosmtpd hooks -----------------------------------------------------------

    def _failure(self, stage: str) -> str | None:
        with self._lock:
            if self._fail and self._fail[0][0] == stage:
                reply = self._fail.pop(0)[1]
                self.refused.append(reply)
                return reply
        return None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self._failure("rcpt")
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        reply = self._failure("data")
        if reply:
            return reply
        if self.delay:
            await asyncio.sleep(self.delay)
        message = parse(envelope.mail_from, envelope.rcpt_tos, envelope.content)
        with self._lock:
            self.received.append(message)
            hold = self._hold_after is not None and len(self.received) > self._hold_after
        if hold:
            self.holding.set()
            # Wait off the event loop, so the server still answers other connections.
            await asyncio.get_running_loop().run_in_executor(None, self._gate.wait)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpServer:
    """A loopback SMTP server that can be stopped (an outage) and started again on
    the same port. Messages survive a restart: the recorder is kept."""

    host = "127.0.0.1"

    def __init__(self):
        self.port = free_port()
        self.handler = Recorder()
        self._controller: Controller | None = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> "SmtpServer":
        assert self._controller is None
        # A stopped controller's event loop is closed: every start gets a new one.
        self._controller = Controller(self.handler, hostname=self.host, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is None:
            return
        self.handler.release()  # nothing may wait for an answer that never comes
        self._controller.stop()
        self._controller = None

    def config(self, sender: str = "notices@provider.example") -> dict:
        """The app settings that point the relay at this server."""
        return {"MAIL_SERVER": self.host, "MAIL_PORT": self.port, "MAIL_FROM": sender,
                "MAIL_USE_TLS": False, "MAIL_USE_SSL": False, "MAIL_USERNAME": None, "MAIL_PASSWORD": None,
                "MAIL_TIMEOUT": 10}
