"""Real SSH signing keys for the unit tests of signed approvals: made once per session with ``ssh-keygen``.

Each person below has an ed25519 key pair without a passphrase in the session's key directory; ``frank`` is
listed only in the allowed-signers file ``signers_file`` (not on any team), ``mallory``'s key is nowhere.

    def test_x(ssh_keys: Keys) -> None:
        armored = ssh_keys.sign("chris", b"statement\\n")  # ssh-keygen -Y sign -n itpm-approval
        ssh_keys.public("chris")  # 'ssh-ed25519 AAAAC3... chris@test'
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from itpm.signing.ssh_keygen import sign
from itpm.signing.statement import APPROVAL_NAMESPACE

__all__ = ["PEOPLE", "Keys", "ssh_keys"]

PEOPLE = ("dana", "chris", "erin", "casey", "sam", "frank", "mallory")


class Keys:
    """The session's key pairs, one per name in ``PEOPLE``, and an allowed-signers file listing frank's."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        for name in PEOPLE:
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@test", "-f", str(self.private(name))],
                check=True,
                capture_output=True,
            )
        self.signers_file = directory / "allowed_signers"
        self.signers_file.write_text(f"# signers besides the team\nfrank {self.public('frank')}\n")

    def private(self, name: str) -> Path:
        """Return the path of ``name``'s private key."""
        return self.directory / f"id_{name}"

    def public(self, name: str) -> str:
        """Return ``name``'s public key line: ``'ssh-ed25519 AAAAC3... name@test'``."""
        return self.directory.joinpath(f"id_{name}.pub").read_text().strip()

    def sign(self, name: str, data: bytes, namespace: str = APPROVAL_NAMESPACE) -> str:
        """Return ``data``'s armored signature made with ``name``'s key (by ``ssh-keygen -Y sign``)."""
        return sign(data, self.private(name), namespace)


@pytest.fixture(scope="session")
def ssh_keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    """The session's ``Keys`` (ed25519 key generation takes a few milliseconds each)."""
    return Keys(tmp_path_factory.mktemp("ssh-keys"))
