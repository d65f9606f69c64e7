"""The main job for a newcomer (``itpm demo``, ``make run``): one project taken the whole way a real rollout goes.

Not a flow: it does, in order, what an engineer would otherwise type, so that the demo shows the real path and
nothing staged for it:

1. ``itpm lab up``: lab hosts for the project's inventory, with the baseline applied (the network project keeps
   the baseline's status port open, and its checks expect it to answer);
2. the local Prefect server (``itpm server start``), the ``itpm`` work pool and every deployment of
   ``prefect.yaml`` (``prefect deploy --all``), and a process worker for the pool;
3. a run of the project's deployment, as a PM would start it from the UI, requested by one team member;
4. its approval gate answered by another with the role (``itpm approve``), as the change manager would;
5. the run followed to its end, with the finished run's report and where to look.

It lives beside the flows because it talks to Prefect (deployments, flow runs); the services it calls do not.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.deployments import run_deployment

from flows.kinds import flow_for
from itpm.errors import ExecutionError
from itpm.executables import executable
from itpm.execution.runner import new_run_id, run_playbook
from itpm.inventory import load_inventory
from itpm.lab.fleet import lab_up
from itpm.log.store import ProjectLog
from itpm.models.project import Project
from itpm.prefect_server import ensure_worker
from itpm.reports.project_view import ProjectView
from itpm.reports.report_files import report_name
from itpm.reports.run_status import run_status
from itpm.settings import Settings

__all__ = [
    "POOL",
    "REPO",
    "DemoRun",
    "approve",
    "prepare_lab",
    "register_deployments",
    "report_path",
    "start_run",
    "wait_until",
]

REPO = Path(__file__).resolve().parents[1]
POOL = "itpm"  # the work pool every deployment of prefect.yaml names
BASELINE = REPO / "playbooks" / "baseline.yml"
_FINAL = (StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED)

Say = Callable[[str], None]


@dataclass(frozen=True)
class DemoRun:
    """A project run the demo started through a deployment: its itpm run id and its Prefect flow run."""

    run_id: str
    flow_run_id: UUID
    ui: str  # the Prefect UI's address: 'http://127.0.0.1:4200'

    @property
    def page(self) -> str:
        """Return the flow run's page in the UI: ``'http://127.0.0.1:4200/v2/runs/flow-run/<id>'``.

        Prefect 3.8's default UI is the V2 one (``/`` redirects to ``/v2/``); its run page has the Artifacts tab.
        """
        return f"{self.ui}/v2/runs/flow-run/{self.flow_run_id}"


def prepare_lab(settings: Settings, project: Project, *, hosts: int, lab: str, say: Say) -> None:
    """Bring up ``hosts`` lab hosts for the project's inventory and apply the baseline to them.

    Raises ExecutionError naming the hosts where the baseline failed.
    """
    say(f"lab '{lab}': {hosts} hosts for {project.scope.inventory}")
    lab_up(settings, name=lab, count=hosts, inventory=project.scope.inventory)
    say("baseline on every host (the monitoring port the network project keeps open)")
    baseline = run_playbook(BASELINE, load_inventory(project.scope.inventory), settings)
    if not baseline.succeeded:
        raise ExecutionError(
            f"the baseline failed on {', '.join(sorted(baseline.failed))}",
            fix=f"itpm apply {BASELINE.relative_to(REPO)} --inventory {project.scope.inventory} shows why",
        )


def register_deployments(settings: Settings, say: Say) -> Path:
    """Create the work pool, register every deployment of prefect.yaml and start a local worker; return its log.

    Raises ExecutionError with Prefect's own output when a command fails.
    """
    # The deployments' pull step runs the flows from this checkout (prefect.yaml says why it is fixed here).
    env = {**os.environ, "ITPM_CHECKOUT": str(REPO)}
    for what, args in (
        (f"work pool '{POOL}'", ["work-pool", "create", POOL, "--type", "process", "--overwrite"]),
        ("deployments of prefect.yaml", ["--no-prompt", "deploy", "--all"]),
    ):
        say(f"Prefect: {what}")
        done = subprocess.run(
            [executable("prefect"), *args], cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=600
        )
        if done.returncode != 0:
            tail = "\n  ".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise ExecutionError(f"`prefect {' '.join(args)}` exited {done.returncode}:\n  {tail}", fix="see above")
    log = ensure_worker(settings, POOL)
    say(f"Prefect: a process worker for pool '{POOL}' (log {log})")
    return log


def start_run(project: Project, project_file: Path, deployment: str, requester: str, ui: str) -> DemoRun:
    """Create a flow run of the project's deployment for ``requester``, as the UI's Run button would; return it."""
    run_id = new_run_id(project.name)
    flow_run = run_deployment(
        f"{flow_for(project.kind).name}/{deployment}",
        parameters={"project_file": str(project_file), "run_id": run_id, "requester": requester},
        timeout=0,  # return at once: the worker runs it
        as_subflow=False,
    )
    assert isinstance(flow_run, FlowRun)  # called from sync code: Prefect returns the value, not a coroutine
    return DemoRun(run_id=run_id, flow_run_id=flow_run.id, ui=ui)


def wait_until(
    log: ProjectLog, run: DemoRun, *, approval_requested: bool = False, timeout: float = 3600, worker_log: Path
) -> str:
    """Wait for the run to ask for approval (or, by default, to finish); return its finish status or ``'waiting'``.

    Raises ExecutionError when its flow run ends without the run finishing in the log (the flow process failed
    before the project's own error handling: a worker that cannot start it, a crash), or at ``timeout``.
    """
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            status = run_status(log.events(run.run_id))
            if approval_requested and status.waiting_for_approval:
                return "waiting"
            state = client.read_flow_run(run.flow_run_id).state
            if state is not None and state.type in _FINAL:
                if status.finished:
                    return status.finished
                raise ExecutionError(
                    f"flow run {run.flow_run_id} of run {run.run_id} ended {state.name}: {state.message or ''}",
                    fix=f"its page {run.page} and the worker's log {worker_log} say why",
                )
            time.sleep(1)
    raise ExecutionError(
        f"run {run.run_id} did not {'ask for approval' if approval_requested else 'finish'} in {timeout:g} s",
        fix=f"is the worker up? its log {worker_log}; the run: itpm log {run.run_id}",
    )


def approve(run: DemoRun, approver: str, say: Say) -> None:
    """Answer the run's approval gate as ``approver`` through ``itpm approve``, the way a change manager does."""
    command = ["approve", run.run_id, "--as", approver, "--comment", "demo: approved in the change window"]
    say(f"itpm {' '.join(command[:4])}")
    done = subprocess.run(
        [sys.executable, "-m", "itpm", *command], capture_output=True, text=True, check=False, timeout=300
    )
    if done.returncode != 0:
        raise ExecutionError(f"itpm approve exited {done.returncode}: {done.stderr.strip()}", fix="see above")


def report_path(settings: Settings, view: ProjectView) -> Path:
    """Return the HTML report the flow wrote at the end of the run: ``.itpm/reports/network-config-....html``."""
    return settings.reports_dir / f"{report_name(view)}.html"
