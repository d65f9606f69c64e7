"""E-mail over SMTP: server settings from ``ITPM_SMTP_*`` environment variables, credentials from a SecretSource.

``ITPM_SMTP_HOST`` (required), ``ITPM_SMTP_PORT`` (25), ``ITPM_SMTP_FROM`` (itpm@localhost), ``ITPM_SMTP_STARTTLS``
(false), ``ITPM_SMTP_TIMEOUT`` (30 seconds, for the connection and each command); ``ITPM_SMTP_USER`` and
``ITPM_SMTP_PASSWORD`` come from the secret source (the environment by default, Prefect blocks in flows).
"""

from __future__ import annotations

import contextlib
import os
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from itpm.notify.address import Destination
from itpm.notify.channels.base import DeliveryFailed
from itpm.notify.channels.network_failure import explain_network_failure
from itpm.notify.message import Message
from itpm.notify.secret_source import SecretSource

__all__ = ["EmailChannel", "SmtpSettings"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the mail relay: ``SmtpSettings(host='smtp.example.com', port=587, starttls=True)``."""

    host: str
    port: int = 25
    sender: str = "itpm@localhost"
    starttls: bool = False
    timeout_s: float = 30.0

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> SmtpSettings:
        """Return the settings in ``environ``; raise ValueError naming the variable and what it should hold."""
        host = environ.get("ITPM_SMTP_HOST", "").strip()
        if not host:
            raise ValueError("ITPM_SMTP_HOST is not set: set it to the mail relay's host name")
        port = _number(environ, "ITPM_SMTP_PORT", 25)
        if not 0 < port < 65536:  # noqa: PLR2004 - the TCP port range
            raise ValueError(f"ITPM_SMTP_PORT={port} is not a TCP port (1-65535)")
        starttls = environ.get("ITPM_SMTP_STARTTLS", "").strip().lower()
        if starttls not in _TRUE | _FALSE:
            raise ValueError(f"ITPM_SMTP_STARTTLS={starttls!r}: use true or false")
        return cls(
            host=host,
            port=int(port),
            sender=environ.get("ITPM_SMTP_FROM", "").strip() or cls.sender,
            starttls=starttls in _TRUE,
            timeout_s=_number(environ, "ITPM_SMTP_TIMEOUT", 30.0),
        )


def _number(environ: Mapping[str, str], name: str, default: float) -> float:
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text) if isinstance(default, float) else int(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a number") from None
    if value <= 0:
        raise ValueError(f"{name}={text!r} must be more than 0")
    return value


class EmailChannel:
    """Sends the plain-text message as an e-mail through the relay the environment names."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def send(self, to: Destination, message: Message, secrets: SecretSource) -> None:
        """Deliver ``message`` to the mailbox ``to``; raise DeliveryFailed naming the relay and what failed."""
        try:
            settings = SmtpSettings.from_environment(self._environ)
        except ValueError as error:
            raise DeliveryFailed(f"email to {to.shown}: {error}") from None
        where = f"email to {to.shown} via {settings.host}:{settings.port}"
        user = secrets.get("ITPM_SMTP_USER")
        password = secrets.get("ITPM_SMTP_PASSWORD")
        if user and password is None:
            raise DeliveryFailed(f"{where}: ITPM_SMTP_USER is set but ITPM_SMTP_PASSWORD is not")
        mail = _mail(settings.sender, to.value, message)
        try:
            _deliver(settings, mail, user, password)
        except smtplib.SMTPException as error:
            raise DeliveryFailed(f"{where}: {_explain_smtp(error)}") from None
        except OSError as error:
            raise DeliveryFailed(f"{where}: {explain_network_failure(error, timeout_s=settings.timeout_s)}") from None


def _mail(sender: str, recipient: str, message: Message) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = recipient
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(message.at)
    # The sender's domain, not socket.getfqdn(): that may wait on DNS, and the ID only has to be unique.
    mail["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or "itpm.invalid")
    mail["X-Itpm-Run"] = message.run_id
    mail["X-Itpm-About"] = message.about
    mail.set_content(message.text)
    return mail


def _deliver(settings: SmtpSettings, mail: EmailMessage, user: str | None, password: str | None) -> None:
    smtp = smtplib.SMTP(timeout=settings.timeout_s)
    try:
        smtp.connect(settings.host, settings.port)
        if settings.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if user and password is not None:
            smtp.login(user, password)
        smtp.send_message(mail)
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.quit()  # the relay has accepted the mail; a failed goodbye changes nothing
    finally:
        smtp.close()


def _explain_smtp(error: smtplib.SMTPException) -> str:
    """Return the relay's refusal in words, with the SMTP code and text it answered."""
    if isinstance(error, smtplib.SMTPAuthenticationError):
        answer = _reply(error.smtp_code, error.smtp_error)
        return f"the server refused the login ({answer}): check ITPM_SMTP_USER and ITPM_SMTP_PASSWORD"
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        replies = "; ".join(_reply(code, text) for code, text in error.recipients.values())
        return f"the server refused the recipient ({replies})"
    if isinstance(error, smtplib.SMTPSenderRefused):
        return f"the server refused the sender ITPM_SMTP_FROM ({_reply(error.smtp_code, error.smtp_error)})"
    if isinstance(error, smtplib.SMTPResponseException):
        return f"the server answered {_reply(error.smtp_code, error.smtp_error)}"
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return f"the server closed the connection ({error})"
    return str(error)  # SMTPNotSupportedError and kin: "STARTTLS extension not supported by server."


def _reply(code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(words.split())}"
