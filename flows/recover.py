"""A recovery runbook as a Prefect flow: one task per runbook step, the summary as a Markdown artifact.

On-call runs it with ``itpm recover db-primary`` (or from its deployment in the UI); the service layer
(itpm/recovery.py) does the work and the project log keeps every step.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from itpm.recovery import Recovery, RecoveryFailed, StepOutcome
from itpm.reports.recovery_report import recovery_markdown
from itpm.settings import load_settings

__all__ = ["recover_flow"]


@task(name="runbook step", task_run_name="{title}", cache_policy=NO_CACHE)
def recovery_step(recovery: Recovery, step_name: str, title: str) -> StepOutcome:
    """Do one runbook step; return its outcome (a failure says what on-call does next)."""
    step = next(s for s in recovery.steps() if s.name == step_name)
    outcome = recovery.run_step(step)
    (get_run_logger().info if outcome.done else get_run_logger().error)("%s: %s", title, outcome.detail)
    return outcome


def _publish(recovery: Recovery) -> None:
    create_markdown_artifact(
        markdown=recovery_markdown(recovery.log.events(recovery.run_id)),
        key=f"itpm-{recovery.runbook.name}-recovery",
        description=f"{recovery.runbook.title}: steps, RTO and RPO against target, what to do next",
    )


@flow(name="itpm-recover", persist_result=False)
def recover_flow(
    runbook_file: str,
    run_id: str | None = None,
    requester: str = "prefect-deployment",
    *,
    drill: bool = False,
    triggered_at: datetime | None = None,
    extra_vars: dict[str, str] | None = None,
) -> str:
    """Run a recovery runbook (or its drill); return ``recovered`` / ``drill passed`` or raise RecoveryFailed."""
    recovery = Recovery.open(
        Path(runbook_file),
        load_settings(),
        requester=requester,
        drill=drill,
        triggered_at=triggered_at,
        extra_vars=extra_vars,
        run_id=run_id,
    )
    recovery.start()
    for step in recovery.steps():
        outcome = recovery_step(recovery, step.name, step.title)
        if not outcome.done:
            recovery.finish(done=False)
            _publish(recovery)
            raise RecoveryFailed(recovery.run_id, outcome)
    measured = recovery.measure()
    recovery.finish(done=True)
    _publish(recovery)
    get_run_logger().info("RTO %.0f s, RPO %.0f s: targets %s", measured.rto_s, measured.rpo_s, measured.met)
    return "drill passed" if drill else "recovered"
