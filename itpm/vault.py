"""Ansible Vault: the password that opens a vault-encrypted inventory, for the playbooks and the checks alike.

Secrets a playbook needs live in the inventory, encrypted with ansible-vault (kubespray's layout: ``vault_*``
variables in ``group_vars/all/vault.yml``). itpm never reads the password: it hands Ansible the path in
``ITPM_VAULT_PASSWORD_FILE`` (a file holding the password, or an executable that prints it, as Ansible allows) as
``ANSIBLE_VAULT_PASSWORD_FILE``. ``ansible-inventory`` then decrypts for itpm's inventory view, which is what the
checks read as ``host_vars``, and ``ansible-playbook`` for the playbooks. A path, unlike the password, may be
written down: ansible-runner keeps each run's environment in its artifacts.

A password file that other users may read is refused, as ssh refuses such a private key. Tasks that use a vault
variable run with ``no_log: true``; a check compares one by digest, outside an ``assert``, because pytest prints
the operands of a failed assert into the run's ``pytest.log``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from itpm.errors import InventoryError

__all__ = ["VAULT_FILE_SETTING", "vault_environment"]

VAULT_FILE_SETTING = "ITPM_VAULT_PASSWORD_FILE"


def vault_environment(password_file: Path | None) -> dict[str, str]:
    """Return the variables that let Ansible decrypt vault data: ``{'ANSIBLE_VAULT_PASSWORD_FILE': '/etc/itpm/vault'}``.

    Returns ``{}`` without a password file. Raises InventoryError for a path that is missing or not a file, and for
    a password file (not an executable) that users other than its owner may read.
    """
    if password_file is None:
        return {}
    path = password_file.expanduser().absolute()
    try:
        mode = path.stat().st_mode
    except OSError as error:
        raise InventoryError(
            f"{VAULT_FILE_SETTING}={password_file}: cannot read it ({error.strerror})",
            fix=f"point {VAULT_FILE_SETTING} at the file holding the vault password (mode 0600)",
        ) from None
    if not stat.S_ISREG(mode):
        raise InventoryError(
            f"{VAULT_FILE_SETTING}={password_file} is not a file",
            fix=f"point {VAULT_FILE_SETTING} at the file holding the vault password (mode 0600)",
        )
    # An executable is a vault password client that fetches the password elsewhere: it holds no secret itself.
    if not os.access(path, os.X_OK) and mode & 0o077:
        raise InventoryError(
            f"{VAULT_FILE_SETTING}={password_file}: other users may read the vault password "
            f"(mode {stat.S_IMODE(mode):04o})",
            fix=f"chmod 600 {path}",
        )
    return {"ANSIBLE_VAULT_PASSWORD_FILE": str(path)}
