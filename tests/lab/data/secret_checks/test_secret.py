"""The token file written by tests/lab/data/playbooks/secret.yml holds the vault secret, readable by root only."""

from __future__ import annotations

import hashlib
from typing import Any

from testinfra.host import Host


def test_token_file_holds_the_vault_secret(host: Host, host_vars: dict[str, Any]) -> None:
    token_file = host.file("/etc/itpm-secret")
    assert token_file.exists, "/etc/itpm-secret is missing"
    assert (token_file.user, token_file.mode) == ("root", 0o600), "/etc/itpm-secret must be root's, mode 0600"
    # Compared by digest, outside the assert: pytest prints the operands of a failed assert, and a check's output
    # is kept (the run's pytest.log).
    expected = hashlib.sha256(f"{host_vars['vault_lab_api_token']}\n".encode()).hexdigest()
    holds_secret = token_file.sha256sum == expected
    assert holds_secret, "/etc/itpm-secret does not hold the API token from the vault"
