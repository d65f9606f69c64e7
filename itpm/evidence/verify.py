"""Checking an evidence archive as an auditor would, in one call: the manifest, the chain, the signatures.

In order: every member has the sha256 the manifest gives and no member is unlisted; events.jsonl's chain holds
(each hash recomputed with itpm.log.chain's ``event_hash``, each line following the one before, the last one the
manifest's head); what follows from the events is what they give (the change record, VERIFY.md, the manifest's
list of signed answers, each file under approvals/); verify_chain.py is itpm's script; and each signature of an
approval or rejection is good (``ssh-keygen -Y verify`` against the allowed signers its gate was opened with),
made by the key the answer names, over a statement that names this run, step, gate opening, plan, signer and
decision, as the events do. A refused answer's signature is evidence of an attempt: reported, not required.

>>> report = verify_evidence(Path("r1.tar.gz"))  # doctest: +SKIP
>>> report.ok, report.summary  # doctest: +SKIP
(True, 'verified: 41 events, chain head 3f9a1c2b7d4e, 2 signatures good')
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from itpm.errors import ExecutionError
from itpm.evidence.build import FORMAT, derived_members, manifest_facts
from itpm.evidence.change_record import change_record
from itpm.evidence.members import CHANGE_RECORD_JSON, EVENTS, MANIFEST, EventLine, SignedAnswer, signed_answers, unpack
from itpm.evidence.record import ChangeRecord
from itpm.log.chain import GENESIS, SHORT_HASH, event_hash
from itpm.signing import ssh_keygen
from itpm.signing.sshsig import MalformedSignature, read_signature
from itpm.signing.statement import APPROVAL_NAMESPACE, parse_statement, plan_digest

__all__ = ["EvidenceReport", "Problem", "verify_evidence"]


@dataclass(frozen=True)
class Problem:
    """One thing that does not hold: the member (and line of events.jsonl) it is in, and what failed."""

    member: str
    what: str

    @property
    def sentence(self) -> str:
        """Return the problem in one line: ``'events.jsonl line 12 (approval_decided, s, chris): edited: ...'``."""
        return f"{self.member}: {self.what}"


@dataclass(frozen=True)
class EvidenceReport:
    """What ``verify_evidence`` found: the problems (none: it verified), what it checked, and refused attempts."""

    archive: Path
    run_id: str
    head: str
    events: int  # lines of events.jsonl checked
    signatures: int  # signatures of approvals and rejections found good
    problems: tuple[Problem, ...]
    attempts: tuple[str, ...] = ()  # refused answers' signatures, and what ssh-keygen said of them

    @property
    def ok(self) -> bool:
        """Return whether the archive verified."""
        return not self.problems

    @property
    def summary(self) -> str:
        """Return the outcome in one line: ``'verified: 41 events, chain head 3f9a1c2b7d4e, 2 signatures good'``."""
        counts = (
            f"{self.events} events, chain head {self.head[:SHORT_HASH] or 'none'}, {self.signatures} signatures good"
        )
        if self.ok:
            return f"verified: {counts}"
        return f"does not verify: {len(self.problems)} problems ({counts})"


def _manifest(files: Mapping[str, bytes]) -> tuple[dict[str, Any], list[Problem]]:
    try:
        document = json.loads(files[MANIFEST])
    except (KeyError, ValueError):
        return {}, [Problem(MANIFEST, "missing, or not JSON: nothing says what the archive should hold")]
    if not isinstance(document, dict) or not isinstance(document.get("members"), dict):
        return {}, [Problem(MANIFEST, "not an itpm evidence manifest")]
    problems = [] if document.get("format") == FORMAT else [Problem(MANIFEST, f"its format is not {FORMAT!r}")]
    return document, problems


def _digests(files: Mapping[str, bytes], listed: Mapping[str, object]) -> Iterator[Problem]:
    for name in sorted(set(files) - {MANIFEST} - set(listed)):
        yield Problem(name, "not listed in the manifest: added to the archive")
    for name, digest in sorted(listed.items()):
        if name not in files:
            yield Problem(name, "listed in the manifest but missing")
        elif hashlib.sha256(files[name]).hexdigest() != digest:
            yield Problem(name, "its sha256 is not the manifest's: changed after the archive was built")


def _lines(text: bytes, run_id: str, head: str) -> tuple[list[EventLine], list[Problem]]:
    """Return the event lines read, and where the chain does not hold."""
    lines: list[EventLine] = []
    problems: list[Problem] = []
    prev = GENESIS
    for number, raw in enumerate(text.decode(errors="replace").splitlines(), start=1):
        try:
            item = json.loads(raw)
            if not isinstance(item, dict) or not isinstance(item.get("event"), dict):
                raise TypeError(raw)
            line = EventLine(str(item["run"]), str(item["prev"]), str(item["hash"]), item["event"])
            # NaN or Infinity (Python's json reads them) cannot be hashed: not JSON, never written by itpm.
            digest = event_hash(line.run, line.prev, line.event)
        except (ValueError, KeyError, TypeError):
            problems.append(Problem(f"{EVENTS} line {number}", "not an event line: edited"))
            continue
        lines.append(line)
        where = line.label(number)
        if line.run != run_id:
            problems.append(Problem(where, f"of run {line.run}, not the archive's ({run_id})"))
        if line.prev != prev:
            problems.append(Problem(where, "does not follow the line before it: a line was removed, added or moved"))
        if digest != line.hash:
            problems.append(Problem(where, "edited: its content does not match its hash"))
        prev = line.hash
    if not lines:
        problems.append(Problem(EVENTS, "missing or empty"))
    elif prev != head:
        problems.append(Problem(EVENTS, f"its last hash {prev[:SHORT_HASH]} is not the manifest's head: cut short"))
    return lines, problems


def _derived(files: Mapping[str, bytes], document: Mapping[str, Any], lines: list[EventLine]) -> Iterator[Problem]:
    """Yield each member that is not what the events give (the chain held: the events are the reference)."""
    try:
        archived = ChangeRecord.model_validate_json(files.get(CHANGE_RECORD_JSON, b""))
    except ValidationError as invalid:
        yield Problem(CHANGE_RECORD_JSON, f"not a change record: {invalid.errors()[0]['msg']}")
        return
    try:
        record = change_record(lines, archived.project_file)
    except ValueError as unreadable:  # pydantic's ValidationError is one
        yield Problem(EVENTS, f"not the events of a whole itpm run: {str(unreadable).splitlines()[0]}")
        return
    answers = signed_answers(lines)
    listed = document.get("members", {})
    derived = derived_members(lines, record, answers)
    for name in sorted(set(files) - {MANIFEST} - {name for name, _ in derived}):
        yield Problem(name, f"not a file {EVENTS} gives: added to the archive")
    for name, data in derived:
        if name not in files and name not in listed:  # when listed, its absence is named already
            yield Problem(name, f"missing: {EVENTS} holds what it should say")
        elif name in files and files[name] != data:
            yield Problem(name, f"not what {EVENTS} gives: changed after the archive was built")
    facts = manifest_facts(record, answers)
    for key, value in facts.items():
        if document.get(key) != value:
            yield Problem(MANIFEST, f"its {key} is not what {EVENTS} gives")


def _fields(answer: SignedAnswer, lines: list[EventLine], statement_text: str) -> str:
    """Return how the signed statement disagrees with its answer and gate opening in the events ("" if it agrees)."""
    try:
        statement = parse_statement(statement_text)
    except ValueError as unreadable:
        return f"not a signed statement: {unreadable}"
    given = lines[answer.answer_line - 1].event
    request = lines[answer.request_line - 1].event if answer.request_line else {}
    decision = {"approve": "approved", "reject": "rejected"}.get(statement.decision, statement.decision)
    expected = [
        ("purpose", statement.purpose, "approval"),
        ("run", statement.run, given.get("run_id")),
        ("project", statement.project, given.get("project")),
        ("step", statement.step, given.get("step")),
        ("gate", statement.gate, given.get("gate")),
        ("gate", statement.gate, request.get("gate")),
        ("plan", statement.plan, given.get("plan_digest")),
        ("plan", statement.plan, request.get("plan_digest")),
        ("signer", statement.signer, given.get("approver")),
        ("decision", decision, given.get("decision")),
    ]
    if answer.request_line:
        expected.append(("plan", statement.plan, _planned_before(lines, answer.step, answer.request_line)))
    wrong = [f"its {name} is {got!r}, the events say {want!r}" for name, got, want in expected if got != want]
    return "; ".join(dict.fromkeys(wrong))


def _planned_before(lines: list[EventLine], step: str, line: int) -> str:
    """Return the digest of the step's latest plan logged before ``line`` (what its gate opened for; "" if none)."""
    for earlier in reversed(lines[: line - 1]):
        if earlier.kind == "step_planned" and earlier.event.get("step") == step:
            changes, diffs = earlier.event.get("changes"), earlier.event.get("diffs")
            if not isinstance(changes, dict):
                return ""
            return plan_digest(changes, diffs if isinstance(diffs, dict) else None)
    return ""


def _signature(answer: SignedAnswer, files: Mapping[str, bytes], lines: list[EventLine], *, taken: bool) -> str:
    """Return why the answer's signature is not good evidence of what the events say ("" when it is).

    A refused answer (``taken`` False) may name another gate or plan, or be someone else's: that may be why it was
    refused. Only its signature is checked.
    """
    statement = files.get(answer.statement_name, answer.statement.encode()).decode(errors="replace")
    armored = files.get(answer.signature_name, answer.signature.encode()).decode(errors="replace")
    signers = files.get(answer.signers_name or "", b"").decode(errors="replace")
    disagreement = _fields(answer, lines, statement) if taken else ""
    if disagreement:
        return disagreement
    if answer.signers_name is None:
        return "no gate opening before it recorded allowed signers to check it against"
    try:
        key = read_signature(armored).fingerprint
    except MalformedSignature as malformed:
        return f"not an SSH signature: {malformed}"
    if taken and key != lines[answer.answer_line - 1].event.get("signer_key"):
        return f"made with key {key}, not the one the answer records"
    try:
        bad = ssh_keygen.verify(
            statement.encode(), armored, signers, principal=answer.principal, namespace=APPROVAL_NAMESPACE
        )
    except FileNotFoundError:
        raise ExecutionError(
            "ssh-keygen is not installed: the signatures cannot be checked", fix="install OpenSSH's client tools"
        ) from None
    return f"ssh-keygen -Y verify refuses it: {bad}" if bad else ""


def _noted(head: str, lines: list[EventLine]) -> Iterator[Problem]:
    """Yield a problem when the head noted elsewhere (its first 12 hex digits or more) is not in the chain."""
    noted = head.strip().lower()
    if len(noted) < SHORT_HASH:
        yield Problem(EVENTS, f"the head noted, {noted}, is too short to compare: give {SHORT_HASH} hex digits or more")
    elif not any(line.hash.startswith(noted) for line in lines):
        yield Problem(EVENTS, f"the head noted, {noted}, is not in the chain: events up to it were changed or removed")


def verify_evidence(archive: Path, *, head: str | None = None) -> EvidenceReport:
    """Check the evidence archive at ``archive``; the report names every member and event that does not hold.

    ``head`` is a head of the run's chain noted elsewhere (the status report's, 12 hex digits or more): it must be
    in the archive's chain, which then shows that nothing up to it was rewritten, rehashed or not. Raises
    NotEvidence (bad input) when the file is missing or is not a ``.tar.gz``.
    """
    unpacked = unpack(archive)
    files = unpacked.files
    problems = [Problem(name, "not a plain file of the archive's directory") for name in unpacked.odd]
    document, found = _manifest(files)
    problems += found
    problems += _digests(files, document.get("members", {}))
    run_id, last = str(document.get("run", "")), str(document.get("head", ""))
    lines, broken = _lines(files.get(EVENTS, b""), run_id, last)
    problems += broken
    if head is not None:
        problems += _noted(head, lines)
    if lines and not broken:
        problems += _derived(files, document, lines)
    good, attempts = 0, []
    for answer in signed_answers(lines):
        taken = answer.decision in ("approved", "rejected")
        why = _signature(answer, files, lines, taken=taken)
        if not taken:
            outcome = f"does not verify ({why})" if why else "verifies"
            attempts.append(f"{answer.statement_name}: a refused answer by {answer.approver}; its signature {outcome}")
        elif why:
            problems.append(Problem(answer.statement_name, f"{EVENTS} line {answer.answer_line}: {why}"))
        else:
            good += 1
    return EvidenceReport(archive, run_id, last, len(lines), good, tuple(problems), tuple(attempts))
