"""Webhook: an HTTP POST of the message's JSON, with ``Authorization: Bearer $ITPM_WEBHOOK_TOKEN`` when set."""

from __future__ import annotations

import http.client
import json
import urllib.request
from email.message import Message as HeaderMessage
from typing import IO
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

from itpm.notify.address import Destination
from itpm.notify.channels.base import DeliveryFailed
from itpm.notify.channels.network_failure import explain_network_failure
from itpm.notify.message import Message
from itpm.notify.secret_source import SecretSource

__all__ = ["WebhookChannel"]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Refuses redirects: urllib would resend the bearer token to wherever a redirect points."""

    def redirect_request(  # noqa: PLR0917 - urllib's signature, overridden
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HeaderMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        """Return None: the 3xx answer then surfaces as an HTTPError."""
        return None


class WebhookChannel:
    """Posts ``Message.data`` as JSON to a URL; anything but a 2xx answer is a failure."""

    def __init__(self, *, timeout_s: float = 10.0) -> None:
        self._timeout_s = timeout_s
        self._opener = urllib.request.build_opener(_NoRedirects)

    def send(self, to: Destination, message: Message, secrets: SecretSource) -> None:
        """Post ``message`` to the URL ``to``; raise DeliveryFailed naming the host and what it answered."""
        where = f"webhook to {to.shown if to.secret else _host(to.value)}"
        if urlsplit(to.value).scheme not in {"http", "https"}:  # parse_channel checks too; urllib would open file://
            raise DeliveryFailed(f"{where}: not an http:// or https:// address")
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "itpm-notify"}
        token = secrets.get("ITPM_WEBHOOK_TOKEN")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = json.dumps(message.data, ensure_ascii=False).encode()
        # The scheme is http(s), checked above: S310 warns of file:// and custom schemes.
        request = urllib.request.Request(to.value, data=body, headers=headers, method="POST")  # noqa: S310
        try:
            with self._opener.open(request, timeout=self._timeout_s) as response:
                response.read()
        except HTTPError as error:
            with error:  # it holds the open response; closing it frees the socket
                raise DeliveryFailed(f"{where} answered HTTP {error.code} {error.reason}{_hint(error.code)}") from None
        except URLError as error:
            reason = error.reason
            explained = (
                explain_network_failure(reason, timeout_s=self._timeout_s)
                if isinstance(reason, OSError)
                else str(reason)
            )
            raise DeliveryFailed(f"{where}: {explained}") from None
        except OSError as error:  # a timeout while reading the answer comes bare, not as URLError
            raise DeliveryFailed(f"{where}: {explain_network_failure(error, timeout_s=self._timeout_s)}") from None
        except http.client.HTTPException as error:
            raise DeliveryFailed(f"{where}: the answer was not HTTP ({type(error).__name__})") from None


def _host(url: str) -> str:
    """Return ``'hooks.example.com'`` or ``'127.0.0.1:8080'``: never the path or user info, which may hold tokens."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def _hint(code: int) -> str:
    if code in {401, 403}:
        return " (check ITPM_WEBHOOK_TOKEN)"
    if 300 <= code < 400:  # noqa: PLR2004 - the HTTP redirect range
        return " (itpm does not follow redirects: give the final address)"
    return ""
