"""Where notification secrets come from: never the project file, always a ``SecretSource``.

A secret has one name and each source spells it its own way, so the same name works everywhere:
``ITPM_SMTP_PASSWORD`` and a project file's ``webhook:secret:ops-webhook-url`` are read from the environment
as ``$ITPM_SMTP_PASSWORD`` and ``$OPS_WEBHOOK_URL``, and from Prefect (``flows/secrets.py``) as the Secret blocks
``itpm-smtp-password`` and ``ops-webhook-url``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Protocol

__all__ = ["EnvironmentSecrets", "SecretSource", "block_name", "env_var_name", "valid_secret_name"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")


def env_var_name(name: str) -> str:
    """Return the environment variable that holds secret ``name``: ``env_var_name('ops-webhook') == 'OPS_WEBHOOK'``."""
    return name.upper().replace("-", "_")


def block_name(name: str) -> str:
    """Return the Prefect Secret block that holds secret ``name`` (block names are lowercase, with dashes).

    ``block_name('ITPM_SMTP_PASSWORD') == 'itpm-smtp-password'``
    """
    return name.lower().replace("_", "-")


def valid_secret_name(name: str) -> bool:
    """Return whether ``name`` can name a secret in every source (letters, digits, dashes, underscores)."""
    return bool(_NAME.fullmatch(name))  # fullmatch: `$` would also match before a trailing newline


class SecretSource(Protocol):
    """Gives a secret's value by name, or None when it has none; never raises for a missing secret."""

    def get(self, name: str) -> str | None:
        """Return the value of secret ``name`` (e.g. ``'ITPM_SMTP_PASSWORD'``), or None when it is not set."""
        ...


class EnvironmentSecrets:
    """Secrets from environment variables (``os.environ`` unless a mapping is given, as tests do).

    >>> EnvironmentSecrets({"OPS_WEBHOOK_URL": "https://hooks.example.com/T1"}).get("ops-webhook-url")
    'https://hooks.example.com/T1'
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def get(self, name: str) -> str | None:
        """Return ``$NAME`` (dashes read as underscores, any case read as upper), or None when unset or empty."""
        return self._environ.get(env_var_name(name)) or None

    def __repr__(self) -> str:
        return "EnvironmentSecrets()"  # never the values
