"""The baseline as a tracked Prefect flow: apply the playbook, verify the hosts it reached, publish a host table.

Run it with ``python -m flows.baseline`` (against ``$PREFECT_API_URL``, or a temporary local server).
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_table_artifact

from itpm.errors import ItpmError
from itpm.execution.runner import run_playbook
from itpm.inventory import load_inventory
from itpm.models.results import PlaybookResult, VerificationResult
from itpm.reports.host_table import host_rows
from itpm.settings import load_settings
from itpm.verification.runner import verify

PLAYBOOK = Path("playbooks/baseline.yml")
CHECKS = Path("checks/baseline")


class BaselineFailed(ItpmError):
    """Hosts failed the baseline or its checks; carries both results."""

    def __init__(self, applied: PlaybookResult, verified: VerificationResult | None) -> None:
        failed = sorted(set(applied.failed) | set(verified.failed if verified else {}))
        super().__init__(
            f"baseline failed on {', '.join(failed)}",
            fix="see the host table artifact of this run for the failed task or check on each host",
        )
        self.applied = applied
        self.verified = verified


@task(name="apply", task_run_name="apply {playbook} to {limit}")
def apply_playbook(playbook: Path, inventory: Path, limit: str) -> PlaybookResult:
    """Apply the playbook with the execution layer."""
    return run_playbook(playbook, load_inventory(inventory), load_settings(), limit=limit)


@task(name="verify", task_run_name="verify {checks} on {limit}")
def verify_hosts(checks: Path, inventory: Path, limit: str) -> VerificationResult:
    """Run the checks with the verification layer."""
    return verify([checks], load_inventory(inventory), load_settings(), limit=limit)


@flow(name="baseline", flow_run_name="baseline-{limit}")
def baseline(inventory: Path = Path("inventory/lab/hosts.yml"), limit: str = "all") -> VerificationResult:
    """Apply the baseline, verify every host it reached, publish the host table; raise BaselineFailed if any failed."""
    applied = apply_playbook(PLAYBOOK, inventory, limit)
    verified = verify_hosts(CHECKS, inventory, ",".join(applied.ok)) if applied.ok else None
    create_table_artifact(
        table=host_rows(applied, verified),
        key="baseline-hosts",
        description=f"Baseline on {len(applied.hosts)} hosts: applied, verified, and what needs attention",
    )
    if verified is None or not applied.succeeded or not verified.succeeded:
        raise BaselineFailed(applied, verified)
    return verified


if __name__ == "__main__":
    baseline()
