"""The run's parsed inventory, handed to its checks' pytest processes instead of parsed again in each of them.

A verification starts pytest, and pytest-xdist starts workers: each is a new interpreter that would otherwise
run ``ansible-inventory`` itself (0.3 s and more, on every worker of every verification). The run already holds
the ``Inventory``, so ``handed_inventory`` writes it to a private temporary directory and names it, through the
environment, to the checks' processes; ``received_inventory`` reads it there. A hand-run pytest receives none and
parses the inventory itself (``itpm.verification.backend.inventory_at``).

The view holds every host's variables, vault-decrypted ones included, so the file is sealed (Fernet: AES and an
HMAC) with a key made for this verification and passed only in the environment of its processes. A file left
behind by a killed run is unreadable, and a changed or foreign one is refused rather than believed.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from itpm.atomic_file import write_atomic
from itpm.errors import InventoryError
from itpm.inventory import Inventory

__all__ = ["KEY_VARIABLE", "SNAPSHOT_VARIABLE", "handed_inventory", "received_inventory"]

SNAPSHOT_VARIABLE = "ITPM_CHECKS_INVENTORY"
KEY_VARIABLE = "ITPM_CHECKS_INVENTORY_KEY"


@contextlib.contextmanager
def handed_inventory(inventory: Inventory) -> Iterator[dict[str, str]]:
    """Write ``inventory`` sealed to a private directory; yield the variables that name it and its key.

    >>> with handed_inventory(inventory) as handed:  # doctest: +SKIP
    ...     subprocess.run(pytest_command, env={**os.environ, **handed})
    >>> handed  # doctest: +SKIP
    {'ITPM_CHECKS_INVENTORY': '/tmp/itpm-checks-x1y2/inventory.sealed', 'ITPM_CHECKS_INVENTORY_KEY': 'q3...='}

    The directory (mode 0700) and the file (0600) are removed when the block ends, however it ends.
    """
    key = Fernet.generate_key()
    with tempfile.TemporaryDirectory(prefix="itpm-checks-") as directory:
        snapshot = Path(directory) / "inventory.sealed"
        write_atomic(snapshot, Fernet(key).encrypt(inventory.model_dump_json().encode()).decode(), mode=0o600)
        yield {SNAPSHOT_VARIABLE: str(snapshot), KEY_VARIABLE: key.decode()}


def received_inventory(path: str) -> Inventory | None:
    """Return the inventory this process was handed for the inventory at ``path``; None if it was handed none.

    None too when the handed one is of another inventory (a check that reads a second one parses it itself).
    Raises InventoryError when the environment names a snapshot that cannot be read or unsealed.
    """
    snapshot, key = os.environ.get(SNAPSHOT_VARIABLE), os.environ.get(KEY_VARIABLE)
    if not snapshot:
        return None
    inventory = _unsealed(snapshot, key or "")
    # Resolved both: this process has the run's working directory, and the run passed the path it holds.
    return inventory if inventory.path.resolve() == Path(path).resolve() else None


@functools.lru_cache(maxsize=2)
def _unsealed(snapshot: str, key: str) -> Inventory:
    """Return the inventory sealed in ``snapshot``, read once per process (every host's backend asks for it)."""
    try:
        sealed = Path(snapshot).read_bytes()
        return Inventory.model_validate_json(Fernet(key.encode()).decrypt(sealed))
    except (OSError, ValueError, InvalidToken) as error:
        # ValueError: a malformed key, or JSON that is not an inventory (pydantic's ValidationError is one).
        reason = str(error) or type(error).__name__
        raise InventoryError(
            f"the inventory handed to the checks ({SNAPSHOT_VARIABLE}={snapshot}) cannot be read: {reason}",
            fix=f"run checks through itpm (it sets {SNAPSHOT_VARIABLE} and {KEY_VARIABLE} for them), or unset both "
            "to let pytest parse the inventory itself",
        ) from None
