r"""Sign and verify with OpenSSH's ``ssh-keygen -Y``: the tool an auditor has, so the check is theirs to repeat.

``sign`` takes a private key file, or a public key whose private half is in the ssh-agent (``ssh-keygen`` asks
the agent then). ``verify`` checks a signature against an allowed-signers text for one principal and namespace.

>>> armored = sign(b"hello\\n", Path("~/.ssh/id_ed25519").expanduser(), "itpm-approval")  # doctest: +SKIP
>>> verify(b"hello\\n", armored, allowed, principal="chris", namespace="itpm-approval")  # doctest: +SKIP
''
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from itpm.errors import ItpmError

__all__ = ["SigningFailed", "sign", "verify"]

_TIMEOUT_S = 30  # a passphrase prompt with no terminal, or an agent that never answers, must not hang a run


class SigningFailed(ItpmError):
    """``ssh-keygen`` could not sign with the key given."""

    exit_code = 2


def sign(data: bytes, key: Path, namespace: str) -> str:
    """Return the armored signature of ``data`` made with ``key`` (a private key, or a public key in the agent)."""
    if not key.exists():
        raise SigningFailed(f"signing key {key} does not exist", fix="give --key the path of your SSH signing key")
    try:
        done = subprocess.run(
            ["ssh-keygen", "-q", "-Y", "sign", "-f", str(key), "-n", namespace],
            input=data,
            capture_output=True,
            timeout=_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise SigningFailed(
            f"ssh-keygen did not sign with {key} within {_TIMEOUT_S} s (waiting for a passphrase?)",
            fix="load the key into ssh-agent (ssh-add) and pass its .pub file to --key",
        ) from None
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip() or f"exit {done.returncode}"
        raise SigningFailed(
            f"ssh-keygen could not sign with {key}: {why}",
            fix="give --key a private key, or the .pub of a key loaded in ssh-agent",
        )
    return done.stdout.decode()


def verify(data: bytes, armored: str, allowed_signers: str, *, principal: str, namespace: str) -> str:
    """Return why ``armored`` is not ``principal``'s good signature of ``data`` (empty when it is)."""
    with tempfile.TemporaryDirectory(prefix="itpm-verify-") as tmp:
        signers, signature = Path(tmp, "allowed_signers"), Path(tmp, "statement.sig")
        signers.write_text(allowed_signers, encoding="utf-8")
        signature.write_text(armored, encoding="utf-8")
        done = subprocess.run(
            # ssh-keygen is OpenSSH's own tool, found on PATH like ansible's ssh.
            ["ssh-keygen", "-Y", "verify", "-f", str(signers), "-I", principal, "-n", namespace, "-s", str(signature)],
            input=data,
            capture_output=True,
            timeout=_TIMEOUT_S,
            check=False,
        )
    if done.returncode == 0:
        return ""
    return (done.stderr or done.stdout).decode(errors="replace").strip() or f"ssh-keygen exit {done.returncode}"
