"""Ansible's own reading of an inventory (``ansible-inventory --list``), and everything that reading depends on.

``itpm.inventory`` types what ``list_inventory`` returns. A reading takes 0.3 s and more with the inventory's
size, so it is kept (``itpm.file_memo``) until something it depends on changes: ``reading_key`` is the
environment that changes how Ansible reads, ``reading_inputs`` the files it reads. For an inventory file those
are the file, the ``group_vars/`` and ``host_vars/`` beside it (beside the path as given, where Ansible looks,
and beside the file a symlink leads to), Ansible's config file and the vault password file; for a directory,
everything under it.

A directory may hold inventory plugin configs (a YAML file with ``plugin: amazon.aws.aws_ec2``) whose hosts come
from elsewhere: no file says when those change, so their readings are not kept (``reading_inputs`` is None).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Hashable
from pathlib import Path
from typing import Any

from itpm.errors import InventoryError
from itpm.executables import executable
from itpm.file_memo import Seen
from itpm.settings import Settings
from itpm.vault import VAULT_FILE_SETTING, vault_environment

__all__ = ["list_inventory", "reading_inputs", "reading_key"]

_VARS_DIRS = ("group_vars", "host_vars")
_PLUGIN_CONFIG = re.compile(r"^plugin\s*:", re.MULTILINE)
_YAML = (".yml", ".yaml")


def list_inventory(path: Path) -> dict[str, Any]:
    """Return ``ansible-inventory --list`` of ``path``: ``{'_meta': {'hostvars': {...}}, 'all': {...}, ...}``.

    Raises InventoryError with Ansible's cause and where it is, and the vault setting to fix when it could not
    decrypt.
    """
    env = {
        **os.environ,
        "ANSIBLE_INVENTORY_ENABLED": _plugins(path),
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True",
        "ANSIBLE_NOCOLOR": "True",
        # Vault-encrypted vars decrypt here too: checks read them from this view (itpm/vault.py).
        **vault_environment(Settings().vault_password_file),
    }
    done = subprocess.run(
        [executable("ansible-inventory"), "-i", str(path), "--list"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        vault = any(sign in done.stderr for sign in ("no vault secrets", "Decryption failed"))
        raise InventoryError(
            f"inventory {path} cannot be parsed: {_ansible_error_summary(done.stderr)}",
            fix=f"set {VAULT_FILE_SETTING} to the file holding the password of its vault-encrypted vars"
            if vault
            else "fix the file at the line given (it must be a valid Ansible YAML or INI inventory)",
        )
    parsed: dict[str, Any] = json.loads(done.stdout)
    return parsed


def reading_key(path: Path) -> Hashable:
    """Return what names one reading of ``path``: the path as Ansible takes it and the environment it reads in.

    Every ``ANSIBLE_*`` variable counts (a config file, plugin paths, vault ids), and the working directory (where
    Ansible finds ``ansible.cfg``).
    """
    ansible = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("ANSIBLE_")))
    return (os.path.abspath(path), ansible, str(Settings().vault_password_file), os.getcwd())


def reading_inputs(path: Path) -> Seen | None:
    """Return how the files a reading of ``path`` depends on are now; None when they do not tell (plugin configs).

    Call it before reading, so that a change made during the reading shows as a change afterwards.
    """
    given = Path(os.path.abspath(path))
    if not given.exists() or (given.is_dir() and _has_plugin_configs(given)):
        return None  # a missing inventory is an error of the reading, never kept
    contents = [given]
    if not given.is_dir():
        contents += [directory / name for directory in (given.parent, given.resolve().parent) for name in _VARS_DIRS]
    vault_file = Settings().vault_password_file
    if vault_file is not None:
        contents.append(vault_file.expanduser().absolute())
    return Seen.of(contents + _config_files())


def _plugins(path: Path) -> str:
    if path.suffix in _YAML:
        return "yaml"
    return "ini" if path.is_file() else "auto,yaml,ini"


def _config_files() -> list[Path]:
    """Return where Ansible looks for its config, in its order (the first that exists wins)."""
    named = os.environ.get("ANSIBLE_CONFIG")
    candidates = [Path(named).expanduser()] if named else []
    return [*candidates, Path.cwd() / "ansible.cfg", Path.home() / ".ansible.cfg", Path("/etc/ansible/ansible.cfg")]


def _has_plugin_configs(directory: Path) -> bool:
    """Return whether a YAML file of the inventory directory configures a plugin (``auto`` would run it)."""
    for file in sorted(directory.rglob("*")):
        if file.suffix not in _YAML or set(_VARS_DIRS) & set(file.relative_to(directory).parts):
            continue
        try:
            if _PLUGIN_CONFIG.search(file.read_text(errors="replace")):
                return True
        except OSError:
            continue  # Ansible will say what is wrong with it; unreadable is not a plugin config
    return False


def _ansible_error_summary(stderr: str) -> str:
    """Pick the cause and its origin out of Ansible's layered error text."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    cause = next((lines[i + 1] for i, line in enumerate(lines) if line == "<<< caused by >>>"), None)
    origin = next((line for line in lines if line.startswith("Origin:") and ":" in line[8:]), None)
    if cause:
        return f"{cause} ({origin})" if origin else cause
    errors = [line for line in lines if "ERROR" in line or "WARNING" in line]
    return errors[-1] if errors else (lines[-1] if lines else "ansible-inventory failed")
