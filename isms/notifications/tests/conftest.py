"""A real SMTP server on loopback (aiosmtpd) and the people notifications go to."""

import email
import email.policy
import socket
from dataclasses import dataclass, field

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    sender: str
    recipients: list
    raw: bytes

    @property
    def message(self):
        return email.message_from_bytes(self.raw, policy=email.policy.default)

    @property
    def subject(self) -> str:
        # Django folds a long encoded subject onto a continuation line ("Subject: \n =?utf-8?…");
        # unfolding leaves a leading space, which mail clients trim too.
        return str(self.message["Subject"]).strip()

    @property
    def body(self) -> str:
        return self.message.get_body(("plain",)).get_content()


@dataclass
class MailServer:
    """What the loopback server received; set ``refuse`` to an SMTP reply to refuse mail."""

    port: int
    messages: list = field(default_factory=list)
    refuse: str | None = None
    controller: object = None

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return self.refuse
        self.messages.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
        )
        return "250 OK"

    def start(self):
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def point_mail_at(settings, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    settings.DEFAULT_FROM_EMAIL = "校園資安管理平台 <isms@school.example.edu.tw>"


@pytest.fixture
def smtp_server():
    """An SMTP server on a free port of 127.0.0.1, not yet started (see ``smtp``)."""
    server = MailServer(port=free_port())
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_server, settings):
    """A running loopback SMTP server, with Django's SMTP backend pointed at it."""
    smtp_server.start()
    point_mail_at(settings, smtp_server.port)
    return smtp_server


@pytest.fixture
def recipient(make_user):
    return make_user("wang", email="wang@school.example.edu.tw")


@pytest.fixture
def no_hook(monkeypatch):
    """The worker's deadline evaluation replaced by a stub that counts its calls."""
    import sys
    import types

    calls = []
    module = types.ModuleType("isms.compliance.engine")
    module.run_due = lambda now: calls.append(now)
    monkeypatch.setitem(sys.modules, "isms.compliance.engine", module)
    return calls
