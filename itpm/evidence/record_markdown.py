"""The change record in words (change-record.md): what a change board or an auditor reads first.

Rendered from the ``ChangeRecord`` alone, through the reports' Markdown sections (text from the log escaped), so
``itpm evidence verify`` renders it again and compares.

>>> print(record_markdown(record))  # doctest: +SKIP
# Change record: Baseline rollout
...
"""

from __future__ import annotations

from itpm.evidence.record import Approval, ChangeRecord, StepRecord
from itpm.models.failures import HostFailure
from itpm.reports.markdown_report import section_markdown
from itpm.reports.section import ReportSection
from itpm.reports.wording import duration, last_line, when

__all__ = ["record_markdown"]

_PARTS_OF_A_STEP = ("Plan of ", "Batches of ", "Rollbacks of ", "Checks of ")  # under their step's heading


def _hosts(hosts: list[str]) -> str:
    return ", ".join(hosts) or "-"


def _failures(failures: list[HostFailure]) -> str:
    return "; ".join(f.summary for f in failures)


def _facts(record: ChangeRecord) -> ReportSection:
    times = record.times
    ended = f"{when(times.ended_at)} ({times.status.value})" if times.ended_at and times.status else "no end logged"
    resumed = f", resumed {len(times.starts) - 1} times" if len(times.starts) > 1 else ""
    facts = [
        ("Run", f"`{record.run}`"),
        ("Project", f"{record.project} ({record.project_kind}, environment {record.environment})"),
        ("Requested by", record.requester),
        ("Project file", record.project_file_path),
        ("Started", when(times.started_at) + resumed),
        ("Ended", ended),
        ("Took", duration(times.duration_s) if times.duration_s is not None else "-"),
        ("Dry run", "yes: audit and plan only, nothing changed" if record.dry_run else "no"),
        ("Events", f"{record.events}, chain head `{record.chain_head}`"),
    ]
    return ReportSection(
        "The run",
        paragraphs=(
            "Everything in this record comes from events.jsonl, whose hash chain VERIFY.md says how to check, "
            "except the part marked as read from the project file.",
        ),
        table=tuple({"": label, "value": value} for label, value in facts),
    )


def _project_file(record: ChangeRecord) -> list[ReportSection]:
    part = record.project_file
    if part is None:
        return []
    risks = tuple(
        {
            "risk": r.id,
            "title": r.title,
            "likelihood": r.likelihood.value,
            "impact": r.impact.value,
            "owner": r.owner,
            "mitigation": r.mitigation,
        }
        for r in part.risks
    )
    return [
        ReportSection(
            f"From the project file {part.path} (as read when this archive was built; not covered by the chain)",
            paragraphs=("Objectives:",),
            bullets=tuple(part.objectives),
        ),
        ReportSection("Planned risks", paragraphs=() if risks else ("None listed.",), table=risks),
    ]


def _step(step: StepRecord) -> list[ReportSection]:
    title = f"Step {step.name}" + (f" (change class {step.change_class})" if step.change_class else "")
    intro = [f"Hosts: {_hosts(step.hosts)}."]
    if step.excluded:
        intro.append("Left out: " + "; ".join(f"{h} (did not pass {s})" for h, s in step.excluded.items()) + ".")
    sections = [ReportSection(title, paragraphs=tuple(intro))]
    for plan in step.plans:
        rows = tuple({"host": h, "tasks that would change": "; ".join(t) or "nothing"} for h, t in plan.changes.items())
        unreachable = f" Unreachable: {_hosts(plan.unreachable)}." if plan.unreachable else ""
        sections.append(
            ReportSection(
                f"Plan of {step.name}, {when(plan.at)}",
                paragraphs=(f"Digest `{plan.digest}` (what an approval names).{unreachable}",),
                table=rows,
            )
        )
    if step.batches:
        sections.append(ReportSection(f"Batches of {step.name}", table=tuple(_batch_rows(step))))
    if step.rollbacks:
        rows = tuple(
            {
                "batch": r.batch,
                "at": when(r.at),
                "hosts": _hosts(r.hosts),
                "restored": _hosts(r.ok),
                "not restored": "; ".join(f"{h}: {why}" for h, why in r.failed.items()) or "-",
            }
            for r in step.rollbacks
        )
        sections.append(ReportSection(f"Rollbacks of {step.name}", table=rows))
    if step.audits:
        sections.append(_audits(step))
    return sections


def _batch_rows(step: StepRecord) -> list[dict[str, str]]:
    rows = []
    for batch in step.batches:
        verdict = batch.verdict.value if batch.verdict else "did not finish"
        took = duration(batch.duration_s) if batch.duration_s is not None else "-"
        for host in batch.hosts:
            failed = [": ".join(part for part in (host.failed_task, last_line(host.message)) if part)]
            rows.append(
                {
                    "batch": f"{batch.label} ({verdict}, {when(batch.started_at)}, {took})",
                    "host": host.host,
                    "applied": host.applied.value if host.applied else "-",
                    "verified": {True: "passed", False: "failed", None: "-"}[host.verified],
                    "what failed": "; ".join(p for p in [*failed, _failures(host.check_failures)] if p) or "-",
                }
            )
    return rows


def _audits(step: StepRecord) -> ReportSection:
    stages = [f"{a.stage} the change, {when(a.at)}: {len(a.passed)} hosts passed every check" for a in step.audits]
    rows = tuple(
        {
            "check": c.check,
            "hosts": str(c.hosts),
            "failing before": _hosts(c.failing_before),
            "failing after": "not audited" if c.failing_after is None else _hosts(c.failing_after),
        }
        for c in step.compliance
    )
    return ReportSection(f"Checks of {step.name}, before and after", paragraphs=tuple(stages), table=rows)


def _approval_row(a: Approval) -> dict[str, str]:
    proof = "signed" if a.signed else ("signature refused" if a.files else "unsigned")
    return {
        "line": str(a.line),
        "at": when(a.at),
        "step": a.step,
        "gate": a.gate or "-",
        "approver": a.approver,
        "decision": a.decision.value,
        "role": a.role or "-",
        "proof": proof + (f", key {a.signer_key}" if a.signer_key else ""),
        "plan": a.plan_digest or "-",
        "comment or reason": a.reason or a.comment or "-",
        "files": a.files.statement.removesuffix(".statement") + ".*" if a.files else "-",
    }


def record_markdown(record: ChangeRecord) -> str:
    """Return change-record.md: the run, the project file's part, each step, the approvals, halts and risks."""
    sections = [_facts(record), *_project_file(record)]
    for step in record.steps:
        sections += _step(step)
    sections.append(
        ReportSection(
            "Approvals",
            paragraphs=() if record.approvals else ("No answer at a gate was logged.",),
            table=tuple(_approval_row(a) for a in record.approvals),
        )
    )
    if record.halts:
        sections.append(
            ReportSection(
                "Halts",
                table=tuple(
                    {"at": when(h.at), "where": h.batch or h.step or "-", "why": h.reason, "next": h.next_steps}
                    for h in record.halts
                ),
            )
        )
    if record.risks:
        rows = tuple(
            {
                "risk": r.risk_id,
                "title": r.title,
                "raised": f"{when(r.at)} by {r.by}" + (" (materialized)" if r.materialized else ""),
                "note": r.note or "-",
                "closed": f"{when(r.closed_at)}: {r.closed_note}" if r.closed_at else "open",
            }
            for r in record.risks
        )
        sections.append(ReportSection("Risks raised during the run", table=rows))
    top = section_markdown(ReportSection(f"Change record: {record.title}"), level=1)
    body = [section_markdown(s, level=3 if s.title.startswith(_PARTS_OF_A_STEP) else 2) for s in sections]
    return "\n".join([top, *body])
