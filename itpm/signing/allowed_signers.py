"""Whose signing key is whose: git's allowed-signers format, built from a project's team and its signers file.

A line is ``principals [options] keytype base64-key [comment]`` (``ssh-keygen(1)``, ALLOWED SIGNERS): the
principals a key may sign as, comma-separated. A team member's ``signing_key`` in the project file becomes a line
whose principals are their login and e-mail; a project's ``signing.allowed_signers`` file is read as written.
The text built here is what ``ssh-keygen -Y verify`` is given, and what a run records, so that an auditor checks a
signature against the very list the run used.

>>> text = allowed_signers_of(project)  # doctest: +SKIP
>>> [e.principals for e in parse_allowed_signers(text)]  # doctest: +SKIP
[('chris', 'chris@example.com')]
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from pathlib import Path

from itpm.errors import ItpmError
from itpm.models.project import Person, Project

__all__ = [
    "AllowedSigner",
    "SignersError",
    "allowed_signers_of",
    "parse_allowed_signers",
    "parse_public_key",
    "principal_of",
]

_KEY_TYPES = ("ssh-", "ecdsa-", "sk-ssh-", "sk-ecdsa-")


class SignersError(ItpmError):
    """An allowed-signers file or a signing key that cannot be read."""

    exit_code = 2


@dataclass(frozen=True)
class AllowedSigner:
    """One line of an allowed-signers list: who may sign with which key."""

    principals: tuple[str, ...]
    key_type: str
    key_blob: bytes
    line: str


def parse_public_key(text: str) -> tuple[str, bytes]:
    """Return the type and decoded blob of a public key written ``'ssh-ed25519 AAAA... [comment]'``.

    Raises ValueError saying what a key looks like.
    """
    words = text.split()
    if len(words) < 2 or not words[0].startswith(_KEY_TYPES):  # noqa: PLR2004 - type and key
        raise ValueError("a public key looks like 'ssh-ed25519 AAAAC3Nza... dana@laptop' (the .pub file's line)")
    try:
        blob = base64.b64decode(words[1], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"the key after {words[0]} is not base64: copy the whole line of the .pub file") from None
    # The blob names its own type first; ssh-keygen skips a line where the two differ, so its signer could never sign.
    named = blob[4 : 4 + int.from_bytes(blob[:4], "big")]
    if named != words[0].encode("ascii", errors="replace"):
        raise ValueError(f"the key after {words[0]} is not a {words[0]} key: copy the whole line of the .pub file")
    return words[0], blob


def parse_allowed_signers(text: str, origin: str = "allowed signers") -> list[AllowedSigner]:
    """Return the lines of an allowed-signers list; blank lines and ``#`` comments are skipped.

    Raises SignersError naming the line that is not ``principals [options] keytype key``.
    """
    entries = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        words = line.split()
        at = next((i for i, w in enumerate(words) if i > 0 and w.startswith(_KEY_TYPES)), None)
        if at is None or at + 1 >= len(words):
            raise SignersError(
                f"{origin}, line {number}: no key in {line[:60]!r}",
                fix="write each line as 'login[,email] ssh-ed25519 AAAA...' (git's allowed-signers format)",
            )
        try:
            key_type, blob = parse_public_key(" ".join(words[at : at + 2]))
        except ValueError as problem:
            raise SignersError(f"{origin}, line {number}: {problem}", fix="copy the key from the .pub file") from None
        entries.append(AllowedSigner(tuple(words[0].strip('"').split(",")), key_type, blob, line))
    return entries


def _principals(person: Person) -> list[str]:
    return [identity for identity in (person.user, person.email) if identity]


def principal_of(project: Project, identity: str) -> str:
    """Return the login (else e-mail) the team member ``identity`` signs as: ``principal_of(p, "Chris") == "chris"``.

    Raises SignersError when ``identity`` is no team member with a login or e-mail: there is nobody to sign as.
    """
    person = next((p for p in project.team if p.is_(identity)), None)
    principal = (person.user or person.email or "") if person else ""
    if not principal:
        raise SignersError(
            f"{identity} cannot sign for project {project.name}: not a team member with a login or e-mail",
            fix="add user: (or email:) and signing_key: to your entry in the project file's team",
        )
    return principal


def allowed_signers_of(project: Project) -> str:
    """Return the allowed-signers text for ``project``: its team's ``signing_key`` lines, then its signers file.

    Raises SignersError when the signers file is missing or malformed.
    """
    lines = [
        f"{','.join(_principals(p))} {' '.join(p.signing_key.split()[:2])} {p.name.replace(' ', '_')}"
        for p in project.team
        if p.signing_key
    ]
    if project.signing is not None and project.signing.allowed_signers is not None:
        path = Path(project.signing.allowed_signers)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as problem:
            raise SignersError(
                f"cannot read the allowed signers file {path}: {problem.strerror}",
                fix="point signing.allowed_signers at a readable file in git's allowed-signers format",
            ) from None
        parse_allowed_signers(text, origin=str(path))  # refuse a malformed file now, not at the gate
        lines.extend(line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))
    return "".join(f"{line}\n" for line in lines)
