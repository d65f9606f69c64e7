"""Building a run's evidence archive from the project log: the chained events as stored, and what follows from them.

The run's chain is checked first: an archive of a log that was tampered with would hand an auditor a lie that
verifies, so a broken chain (or events logged before the chain began) refuses the archive. Every member but the
manifest's time follows from the events and the project file, so the same log gives the same archive.

>>> build_evidence(log, "baseline-20261126T100000-a1b2c3", Path("reports/evidence"))  # doctest: +SKIP
PosixPath('reports/evidence/baseline-20261126T100000-a1b2c3.tar.gz')
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from itpm.atomic_file import write_atomic
from itpm.errors import ItpmError
from itpm.evidence.change_record import change_record
from itpm.evidence.instructions import verify_md
from itpm.evidence.members import (
    CHANGE_RECORD_JSON,
    CHANGE_RECORD_MD,
    EVENTS,
    MANIFEST,
    VERIFY_MD,
    VERIFY_SCRIPT,
    EventLine,
    SignedAnswer,
    pack,
    safe_name,
    signed_answers,
)
from itpm.evidence.record import ChangeRecord, ProjectFilePart
from itpm.evidence.record_markdown import record_markdown
from itpm.log.chain_audit import read_run_chain
from itpm.log.events import now
from itpm.log.store import ProjectLog
from itpm.models.project import Project
from itpm.run_record import RunNotFound

__all__ = [
    "FORMAT",
    "EvidenceRefused",
    "archive_name",
    "build_evidence",
    "derived_members",
    "manifest",
    "manifest_facts",
    "verify_script",
]

FORMAT = "itpm evidence 1"


class EvidenceRefused(ItpmError):
    """The run's events cannot be vouched for: its chain is broken, or it began before the chain did."""


def archive_name(run_id: str) -> str:
    """Return the archive's file name for run ``run_id``: ``'baseline-20261126T100000-a1b2c3.tar.gz'``."""
    return f"{safe_name(run_id)}.tar.gz"


def verify_script() -> str:
    """Return the text of the auditor's script, verify_chain.py, as itpm ships it."""
    return resources.files("itpm.evidence").joinpath(VERIFY_SCRIPT).read_text(encoding="utf-8")


def derived_members(
    lines: list[EventLine], record: ChangeRecord, answers: list[SignedAnswer]
) -> list[tuple[str, bytes]]:
    """Return every member but the manifest, in archive order: what the event lines and the record make."""
    members = [
        (VERIFY_MD, verify_md(record.run, record.chain_head, len(lines), answers).encode()),
        (VERIFY_SCRIPT, verify_script().encode()),
        (EVENTS, "".join(f"{line.text()}\n" for line in lines).encode()),
        (CHANGE_RECORD_JSON, (record.model_dump_json(indent=2) + "\n").encode()),
        (CHANGE_RECORD_MD, record_markdown(record).encode()),
    ]
    for answer in answers:
        members += list(answer.members().items())
    return members


def manifest_facts(record: ChangeRecord, answers: list[SignedAnswer]) -> dict[str, Any]:
    """Return what manifest.json says that the events give: format, run, head, how many events, the signed answers."""
    return {
        "format": FORMAT,
        "run": record.run,
        "project": record.project,
        "head": record.chain_head,
        "events": record.events,
        "approvals": [
            {
                "number": a.number,
                "answer_line": a.answer_line,
                "request_line": a.request_line,
                "principal": a.principal,
                "decision": a.decision,
                "statement": a.statement_name,
                "signature": a.signature_name,
                "allowed_signers": a.signers_name,
            }
            for a in answers
        ],
    }


def manifest(facts: dict[str, Any], members: list[tuple[str, bytes]], built_at: datetime) -> bytes:
    """Return manifest.json: the ``facts``, when the archive was built, and each other member's sha256."""
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in members}
    return (json.dumps({**facts, "built_at": built_at.isoformat(), "members": digests}, indent=2) + "\n").encode()


def _project_part(project: Project | None, path: str) -> ProjectFilePart | None:
    if project is None:
        return None
    return ProjectFilePart(path=path, objectives=list(project.objectives), risks=list(project.risks))


def build_evidence(
    log: ProjectLog, run_id: str, out: Path, *, project: Project | None = None, built_at: datetime | None = None
) -> Path:
    """Write the evidence archive of run ``run_id`` to ``out``; return its path.

    ``out`` is the archive's path when it ends in ``.gz`` or ``.tgz``, else a directory for ``<run>.tar.gz``.

    ``project`` is the run's project file as read now, for the objectives and planned risks only it holds (None:
    the record goes without them). Raises RunNotFound for a run the log does not have, EvidenceRefused when its
    chain does not verify. The file is replaced atomically.
    """
    chain, rows = read_run_chain(log, run_id)
    if not rows:
        known = ", ".join(log.run_ids()[-5:]) or "none yet"
        raise RunNotFound(f"no run {run_id!r} in the project log {log.url}", fix=f"recent runs: {known}")
    if chain.broken is not None or chain.unchained:
        why = chain.broken.sentence if chain.broken else f"{chain.unchained} of its events came before the chain"
        raise EvidenceRefused(
            f"run {run_id}'s events cannot be vouched for: {why}",
            fix=f"see `itpm log verify {run_id}`; an archive of a log that does not verify would prove nothing",
        )
    lines = [EventLine(row.run_id, row.prev_hash or "", row.hash or "", json.loads(row.payload)) for row in rows]
    started = next((line.event for line in lines if line.kind == "run_started"), {})
    record = change_record(lines, _project_part(project, str(started.get("project_file", ""))))
    answers = signed_answers(lines)
    members = derived_members(lines, record, answers)
    moment = built_at or now()
    members.insert(0, (MANIFEST, manifest(manifest_facts(record, answers), members, moment)))
    data = pack(f"{safe_name(run_id)}-evidence", members, int(moment.timestamp()))
    target = out if out.suffix in (".gz", ".tgz") else out / archive_name(run_id)
    write_atomic(target, data)
    return target
