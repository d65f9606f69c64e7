"""What a recovery did, for on-call and the incident review: each step, RTO and RPO against target, what next.

Pure: a recovery run's log events in, Markdown out (the Prefect artifact and the end of ``itpm recover``).
"""

from __future__ import annotations

from collections.abc import Sequence

from itpm.log.events import Event, RecoveryMeasured, RecoveryStep, RunStarted

__all__ = ["recovery_markdown"]


def _seconds(value: float) -> str:
    # Recoveries are judged in seconds against their targets; "2 min" would hide what a drill improved.
    return f"{value:.0f} s"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def recovery_markdown(events: Sequence[Event]) -> str:
    """Return the recovery's summary: ``# Recovery ... | step | status | took | what happened |`` and the verdict."""
    started = next((e for e in events if isinstance(e, RunStarted)), None)
    steps = [e for e in events if isinstance(e, RecoveryStep)]
    measured = next((e for e in events if isinstance(e, RecoveryMeasured)), None)
    title = started.title if started else "Recovery"
    lines = [f"# {title}", ""]
    if started is not None:
        lines += [f"Run `{started.run_id}`, started by {started.requester}.", ""]
    lines += ["| step | status | took | what happened |", "|---|---|---|---|"]
    lines += [f"| {s.title} | {s.status} | {s.duration_s:.1f} s | {_cell(s.detail)} |" for s in steps]
    failed = next((s for s in steps if s.status == "failed"), None)
    lines.append("")
    if failed is not None:
        lines += [f"**Stopped at: {failed.title}.**", "", f"**What to do now:** {failed.next_action}"]
        remaining = [name for name in (started.steps if started else []) if name not in {s.step for s in steps}]
        if remaining:
            lines += ["", f"Steps not reached: {', '.join(remaining)}."]
    if measured is not None:
        verdict = "met" if measured.met else "MISSED"
        lines += [
            f"**RTO** {_seconds(measured.rto_s)} (target {_seconds(measured.rto_target_s)}); "
            f"**RPO** {_seconds(measured.rpo_s)} (target {_seconds(measured.rpo_target_s)}): targets {verdict}.",
            "",
            f"Restored backup: `{measured.restored_backup}`.",
        ]
        if not measured.met:
            lines += [
                "",
                "Review the backup schedule (RPO) or the runbook's slowest step (RTO) with the service owner.",
            ]
        if measured.drill:
            lines += ["", "This was a drill: the primary and the clients were not touched."]
    return "\n".join(lines) + "\n"
