"""What an evidence archive holds and how it is packed: its members' names, the event lines, the signed answers.

An archive is a ``.tar.gz`` of plain files under one directory (``<run>-evidence/``), in a fixed order, with
fixed owners, modes and times, so that building it twice from one log gives the same bytes (but for the time
it was built, in ``manifest.json``)::

    manifest.json       sha256 of every other member, the run, the chain's head, when it was built
    VERIFY.md           how to check it offline: the commands, the script
    verify_chain.py     the auditor's script (Python's standard library only)
    events.jsonl        one line per event, in chain order: {"event": payload, "hash": ..., "prev": ..., "run": ...}
    change-record.json  the record (itpm.evidence.record), and change-record.md in words
    approvals/<n>-<step>-<approver>.statement, .sig, <n>.allowed_signers   for each answer that carried a signature

An event line holds the three things its hash is computed from (itpm.log.chain) and the hash itself, written as
canonical JSON, so that recomputing it is ``event_hash(line["run"], line["prev"], line["event"])``.

>>> [answer.statement_name for answer in signed_answers(lines)]  # doctest: +SKIP
['approvals/1-baseline-chris.statement']
"""

from __future__ import annotations

import gzip
import io
import json
import re
import tarfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from itpm.errors import InputError
from itpm.signing.statement import parse_statement, split_bundle

__all__ = [
    "CHANGE_RECORD_JSON",
    "CHANGE_RECORD_MD",
    "EVENTS",
    "MANIFEST",
    "VERIFY_MD",
    "VERIFY_SCRIPT",
    "EventLine",
    "NotEvidence",
    "SignedAnswer",
    "Unpacked",
    "canonical",
    "pack",
    "safe_name",
    "signed_answers",
    "unpack",
]

MANIFEST = "manifest.json"
VERIFY_MD = "VERIFY.md"
VERIFY_SCRIPT = "verify_chain.py"
EVENTS = "events.jsonl"
CHANGE_RECORD_JSON = "change-record.json"
CHANGE_RECORD_MD = "change-record.md"

_UNSAFE = re.compile(r"[^A-Za-z0-9_.@-]+")


class NotEvidence(InputError):
    """A file given as an evidence archive is missing or is not a ``.tar.gz`` at all."""


def canonical(value: object) -> str:
    """Return ``value`` as canonical JSON (keys sorted, no spaces, ASCII), as the chain hashes it."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def safe_name(text: str) -> str:
    """Return ``text`` fit for a file name and a shell word: ``'chris@example.com'``, ``'a_b'`` for ``'a/b'``."""
    return _UNSAFE.sub("_", text).strip("._") or "_"


@dataclass(frozen=True)
class EventLine:
    """One line of events.jsonl: an event's payload as hashed, the hash before it, its own hash, its run."""

    run: str
    prev: str
    hash: str
    event: Mapping[str, Any]

    def text(self) -> str:
        """Return the line as written (without its newline): canonical JSON of the four."""
        return canonical({"event": self.event, "hash": self.hash, "prev": self.prev, "run": self.run})

    @property
    def kind(self) -> str:
        """Return the event's kind as its payload says (``'?'`` when it says none)."""
        return str(self.event.get("kind", "?"))

    def label(self, number: int) -> str:
        """Return the line in words: ``'events.jsonl line 12 (approval_decided, baseline, chris)'``."""
        parts = [self.kind, *(str(self.event[k]) for k in ("batch", "step", "host", "approver") if self.event.get(k))]
        return f"{EVENTS} line {number} ({', '.join(dict.fromkeys(parts))})"


@dataclass(frozen=True)
class SignedAnswer:
    """An answer at a gate that carried a signature, and the gate opening it was checked against.

    ``answer_line`` and ``request_line`` are line numbers in events.jsonl (1 for the first); ``principal`` is
    whom the statement says signed it (who ``ssh-keygen -Y verify -I`` checks), else the answer's approver.
    """

    number: int
    step: str
    approver: str
    decision: str
    answer_line: int
    request_line: int | None
    statement: str
    signature: str
    allowed_signers: str | None
    principal: str

    @property
    def stem(self) -> str:
        """Return the answer's files' path without suffix: ``'approvals/1-baseline-chris'``."""
        return f"approvals/{self.number}-{safe_name(self.step)}-{safe_name(self.approver)}"

    @property
    def statement_name(self) -> str:
        """Return the member holding the signed statement's exact bytes."""
        return f"{self.stem}.statement"

    @property
    def signature_name(self) -> str:
        """Return the member holding the armored signature."""
        return f"{self.stem}.sig"

    @property
    def signers_name(self) -> str | None:
        """Return the member holding the allowed signers the answer was checked against (None: none recorded)."""
        return None if self.allowed_signers is None else f"approvals/{self.number}.allowed_signers"

    def members(self) -> dict[str, bytes]:
        """Return the answer's files: statement, signature, allowed signers."""
        files = {self.statement_name: self.statement.encode(), self.signature_name: self.signature.encode()}
        if self.signers_name is not None and self.allowed_signers is not None:
            files[self.signers_name] = self.allowed_signers.encode()
        return files


def _text(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    return value if isinstance(value, str) else ""


def signed_answers(lines: Sequence[EventLine]) -> list[SignedAnswer]:
    """Return every answer of the run that carried a readable bundle, numbered from 1 in log order.

    Each is paired with the step's latest gate opening before it: what the engine checked it against.
    """
    requests: dict[str, tuple[int, Mapping[str, Any]]] = {}
    answers: list[SignedAnswer] = []
    for number, line in enumerate(lines, start=1):
        payload, step = line.event, _text(line.event, "step")
        if line.kind == "approval_requested":
            requests[step] = (number, payload)
        if line.kind != "approval_decided":
            continue
        try:
            statement, signature = split_bundle(_text(payload, "signature"))
        except ValueError:
            continue  # no signature, or nothing that reads as one: the event itself is the evidence
        try:
            principal = parse_statement(statement).signer
        except ValueError:
            principal = _text(payload, "approver")
        request_line, request = requests.get(step, (None, None))
        answers.append(
            SignedAnswer(
                number=len(answers) + 1,
                step=step,
                approver=_text(payload, "approver"),
                decision=_text(payload, "decision"),
                answer_line=number,
                request_line=request_line,
                statement=statement,
                signature=signature,
                allowed_signers=None if request is None else _text(request, "allowed_signers"),
                principal=principal,
            )
        )
    return answers


def pack(top: str, members: Sequence[tuple[str, bytes]], mtime: int) -> bytes:
    """Return the ``.tar.gz`` of ``members`` under directory ``top``, in order, every header fixed but ``mtime``."""
    buffer = io.BytesIO()
    # The gzip header carries a time and a file name too: fixed, so that equal members give equal bytes.
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=mtime) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        for name, data in members:
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size, info.mtime, info.mode, info.type = len(data), mtime, 0o644, tarfile.REGTYPE
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@dataclass(frozen=True)
class Unpacked:
    """An archive read back: its top directory, its plain files by name under it, and members that do not fit."""

    top: str
    files: dict[str, bytes]
    odd: list[str]  # members that are not plain files under the top directory, or appear twice


def unpack(path: Path) -> Unpacked:
    """Return the members of the archive at ``path``, read in memory (nothing is extracted).

    Raises NotEvidence when the file is missing or is not a ``.tar.gz``.
    """
    if not path.is_file():
        raise NotEvidence(f"{path}: no such file", fix="give the .tar.gz that `itpm evidence RUN` wrote")
    files: dict[str, bytes] = {}
    odd: list[str] = []
    top = ""
    try:
        with tarfile.open(path, mode="r:gz") as archive:
            for info in archive:
                head, _, name = info.name.partition("/")
                top = top or head
                if info.isdir() and not name:
                    continue
                if not info.isfile() or head != top or not name or name in files:
                    odd.append(info.name)
                    continue
                extracted = archive.extractfile(info)
                files[name] = extracted.read() if extracted is not None else b""
    except (tarfile.TarError, OSError, EOFError, zlib.error) as problem:
        raise NotEvidence(
            f"{path}: not a .tar.gz evidence archive ({problem})",
            fix="give the .tar.gz that `itpm evidence RUN` wrote",
        ) from None
    return Unpacked(top, files, odd)
