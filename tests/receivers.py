"""Local receivers that notifications really reach in tests: an SMTP server (aiosmtpd) and an HTTP server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


def free_port() -> int:
    """Return a port nothing listens on (bound, then released): a refused connection, or a server's port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Mailbox:
    """What the local SMTP server saw: each accepted mail and each login attempt (mechanism, login)."""

    port: int
    mails: list[tuple[Envelope, Session]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)


class _Handler:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.mailbox.mails.append((envelope, session))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(
    *, login: tuple[str, str], only: str | None = None, refusal: Callable[[str, str], str] | None = None
) -> Iterator[Mailbox]:
    """Run aiosmtpd on 127.0.0.1 accepting AUTH ``only`` LOGIN or PLAIN (both if None) for ``login`` (user, password).

    ``refusal`` words the 535 answer to a wrong login (a hostile server may echo what it was sent).
    """
    mailbox = Mailbox(port=free_port())
    credentials = login

    def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        user, secret = data.login.decode(), data.password.decode()
        mailbox.logins.append((mechanism, user))
        if (user, secret) == credentials:
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False, message=refusal(user, secret) if refusal else None)

    excluded = [m for m in ("LOGIN", "PLAIN") if only and m != only]
    # auth_require_tls=False: the test server has no certificate; AUTH over plain TCP is fine on 127.0.0.1.
    controller = Controller(
        _Handler(mailbox),
        hostname="127.0.0.1",
        port=mailbox.port,
        authenticator=authenticate,
        auth_require_tls=False,
        auth_exclude_mechanism=excluded,
    )
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()


def received_mail(envelope: Envelope) -> EmailMessage:
    assert isinstance(envelope.content, bytes)
    mail = message_from_bytes(envelope.content, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    return mail


@dataclass(frozen=True)
class Posted:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    posted: list[Posted]


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() then joins every handler thread: nothing outlives the test

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (the timeout test) makes the late answer fail; that is expected


Answer = Callable[[Posted], tuple[int, str | None]]


@contextmanager
def http_receiver(
    answer: Answer = lambda posted: (200, None), *, hold: threading.Event | None = None
) -> Iterator[Receiver]:
    """Run an HTTP server on 127.0.0.1 recording each POST; ``answer`` picks the status (and reason phrase)."""
    posted: list[Posted] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            request = Posted(self.path, dict(self.headers.items()), body)
            posted.append(request)
            if hold is not None:
                hold.wait(10)
            status, reason = answer(request)
            self.send_response(status, reason)
            self.send_header("Content-Length", "0")
            if 300 <= status < 400:
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield Receiver(f"http://127.0.0.1:{server.server_port}", posted)
    finally:
        if hold is not None:
            hold.set()
        server.shutdown()
        server.server_close()
        thread.join()
