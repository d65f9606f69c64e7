"""Notification secrets for flows: a Prefect Secret block first, the environment second.

Services read secrets through ``itpm.notify.SecretSource`` and never import Prefect; this is the Prefect side.
``ITPM_SMTP_PASSWORD`` is the block ``itpm-smtp-password`` (block names are lowercase with dashes), a project
file's ``webhook:secret:ops-webhook-url`` the block ``ops-webhook-url``. Store one with::

    from prefect.blocks.system import Secret
    Secret(value="...").save("itpm-smtp-password", overwrite=True)
"""

from __future__ import annotations

import json
import logging

from prefect.blocks.system import Secret

from itpm.notify.secret_source import EnvironmentSecrets, SecretSource, block_name

__all__ = ["PrefectSecrets"]

_log = logging.getLogger(__name__)


class PrefectSecrets:
    """A SecretSource over Prefect Secret blocks, falling back to ``fallback`` (the environment) for any miss.

    ``PrefectSecrets().get("ITPM_SMTP_PASSWORD")`` returns block ``itpm-smtp-password``, else ``$ITPM_SMTP_PASSWORD``.
    """

    def __init__(self, fallback: SecretSource | None = None) -> None:
        self._fallback = fallback if fallback is not None else EnvironmentSecrets()

    def get(self, name: str) -> str | None:
        """Return the value of block ``block_name(name)``, else the fallback's value for ``name``, else None."""
        value = _block_value(block_name(name))
        return value if value is not None else self._fallback.get(name)

    def __repr__(self) -> str:
        return f"PrefectSecrets(fallback={self._fallback!r})"  # never the values


def _block_value(block: str) -> str | None:
    """Return the text stored in Secret block ``block``, or None when there is no such block or no Prefect API."""
    try:
        # _sync=True: Prefect's load() returns a coroutine when it believes it runs in async code (any running
        # event loop); Prefect's own callers force the synchronous path the same way.
        loaded = Secret.load(block, _sync=True)  # type: ignore[call-arg]
    except Exception as error:  # a missing block, no server, no access: the environment may still have it
        _log.debug("no Prefect Secret block %r (%s); trying the environment", block, type(error).__name__)
        return None
    if not isinstance(loaded, Secret):
        return None
    # Not Secret.get(): it parses text that looks like JSON, so a password "12.50" would come back as the float
    # 12.5 and "null" as None. The stored value is what the person typed.
    raw = loaded.value.get_secret_value()
    return raw if isinstance(raw, str) else json.dumps(raw)
