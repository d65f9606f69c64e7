"""``itpm run``, ``resume`` and ``recover``: a project or a recovery runbook run by its Prefect flow, followed here.

Prefect is imported only by these commands (``flows`` inside them), after ``use_prefect`` has pointed its client
at a healthy API: every other command starts without it.
"""

from __future__ import annotations

import errno
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from itpm.cli import consoles
from itpm.cli.exit_codes import EXIT_FAILED, EXIT_OK
from itpm.cli.following import following
from itpm.cli.typer_app import IdentityOption, app, identity_of, use_prefect
from itpm.engine.emergency import check_declaration
from itpm.errors import ExecutionError, InputError, ItpmError
from itpm.execution.runner import new_run_id
from itpm.inventory import load_inventory
from itpm.log.store import ProjectLog, ProjectLogError, nearly_full
from itpm.models.project import check_variable_name
from itpm.prefect_server import PrefectAccessRefused, check_access, healthy
from itpm.project_file import load_project
from itpm.project_run import ProjectRun
from itpm.recovery import Recovery, runbook_path
from itpm.reports.recovery_report import recovery_markdown
from itpm.reports.run_status import run_status, summary_markdown
from itpm.run_state import RunState
from itpm.settings import Settings, load_settings

__all__ = ["recover_command", "resume_command", "run_command"]

EmergencyOption = Annotated[
    str | None,
    typer.Option(
        "--emergency",
        metavar="REASON",
        help="an emergency change: skip approval gates, saying why; flagged until a signed review (itpm review)",
    ),
]


@app.command("run")
def run_command(
    project_file: Annotated[Path, typer.Argument(help="projects/<name>.yaml")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="audit and plan only: change nothing")] = False,
    identity: IdentityOption = None,
    lock_wait: Annotated[
        int | None, typer.Option(help="seconds to wait for hosts another run holds (0: fail at once)")
    ] = None,
    emergency: EmergencyOption = None,
) -> int:
    """Run a project: audit, plan, approval, batches, re-audit, closure; tracked in Prefect and the project log."""
    if lock_wait is not None:
        os.environ["ITPM_LOCK_WAIT_SECONDS"] = str(lock_wait)  # read by the flow's settings in this process
    settings = load_settings()
    project = load_project(project_file)
    if emergency is not None:  # bad input: exit 2 before anything runs
        check_declaration(project, RunState(), emergency, dry_run=dry_run)
    load_inventory(project.scope.inventory).select(project.scope.hosts)  # bad scope: exit 2 before anything runs
    run_id = new_run_id(project.name)
    requester = identity_of(identity)
    return _run_flow(settings, project_file.resolve(), run_id, requester, dry_run=dry_run, emergency=emergency or "")


@app.command("resume")
def resume_command(
    run_id: Annotated[str, typer.Argument(help="the run id printed by itpm run")], emergency: EmergencyOption = None
) -> int:
    """Resume a crashed or halted run: hosts already applied and verified are skipped."""
    settings = load_settings()
    run = ProjectRun.reopen(run_id, settings)
    if emergency is not None:
        run.check_emergency(emergency, dry_run=False)
    return _run_flow(settings, run.project_file, run_id, run.requester, dry_run=False, emergency=emergency or "")


def _run_flow(
    settings: Settings, project_file: Path, run_id: str, requester: str, *, dry_run: bool, emergency: str = ""
) -> int:
    url = use_prefect(settings)
    from flows.kinds import flow_for  # noqa: PLC0415 - Prefect is imported only by commands that need it

    project_flow = flow_for(load_project(project_file).kind)

    consoles.err.print(f"run [bold]{run_id}[/] - Prefect UI {url.removesuffix('/api')}/v2/runs, log: itpm log {run_id}")
    log = ProjectLog.for_settings(settings)
    try:
        with following(log, run_id):
            outcome = project_flow(
                project_file=str(project_file), run_id=run_id, requester=requester, dry_run=dry_run, emergency=emergency
            )
    except ProjectLogError as error:
        error.fix = f"{error.fix}; then itpm resume {run_id} continues the run from what the log holds"
        raise
    except ItpmError:
        raise
    except Exception as error:
        stopped = _run_stopped_by(error, settings, url, run_id)
        if stopped is None:
            raise  # not a failure of what itpm relies on: a bug, and its traceback is the report
        raise stopped from error
    status = run_status(ProjectLog.for_settings(settings).events(run_id))
    consoles.out.print(summary_markdown(status), highlight=False)
    consoles.out.print(f"where it stands: itpm status {run_id}; the report: itpm report {run_id}", highlight=False)
    # Completed with failures inside max_fail_percent is still a rollout with failed hosts: not a clean 0.
    return EXIT_OK if outcome in ("completed", "dry_run") and not status.problems else EXIT_FAILED


def _run_stopped_by(error: Exception, settings: Settings, url: str, run_id: str) -> ItpmError | None:
    """Return what a person needs to hear of an outside failure that stopped a run, or None if it is none of them.

    The failures: the disk itpm writes to is full, the Prefect API stopped answering (after Prefect's client
    retried for about a minute: PREFECT_CLIENT_MAX_RETRIES) or began refusing this machine's credentials (a
    server restarted with another PREFECT_SERVER_API_AUTH_STRING). Every event logged before them is in the
    project log.
    """
    causes = _causes(error)
    if any(isinstance(cause, OSError) and cause.errno == errno.ENOSPC for cause in causes):
        full = nearly_full(settings.state_dir)
        where = (
            f"the state directory {settings.state_dir}"
            if full
            else f"a disk it writes to ({settings.state_dir} is not)"
        )
        return ExecutionError(
            f"run {run_id} stopped: no space left in {where} ({error})",
            fix=f"free space (df -h {settings.state_dir}), then itpm resume {run_id}: the project log holds every "
            "event up to the stop, and the resumption skips the hosts it shows done",
        )
    # Prefect talks to its API through httpx; a failed call, or an API that no longer answers, ended the flow.
    from_the_api = any(type(cause).__module__.partition(".")[0] in ("httpx", "httpcore") for cause in causes)
    if from_the_api or not healthy(url):
        try:
            check_access(url)  # a 401 is a call Prefect's client made and lost like any other: ask which it was
        except PrefectAccessRefused as refused:
            refused.message = f"run {run_id} stopped: {refused.message}"
            refused.fix = f"{refused.fix}; then itpm resume {run_id}: the project log holds every event up to the stop"
            return refused
        return ExecutionError(
            f"run {run_id} stopped: the Prefect API at {url} stopped answering ({type(error).__name__}: {error})",
            fix="start that server again (itpm server start starts the local one; PREFECT_API_URL names the one in "
            f"use), then itpm resume {run_id}: the project log holds every event up to the stop",
        )
    return None


def _causes(error: BaseException) -> list[BaseException]:
    """Return ``error`` and the exceptions it was raised from or while handling, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


@app.command("recover")
def recover_command(
    runbook: Annotated[str, typer.Argument(help="a runbook name (runbooks/<name>.yaml) or file")],
    *,
    drill: Annotated[bool, typer.Option("--drill", help="rehearse on the standby; touch no primary or client")] = False,
    triggered_at: Annotated[
        datetime | None, typer.Option(help="when the alert fired (RTO starts there); default: now")
    ] = None,
    extra: Annotated[
        list[str] | None, typer.Option("--var", help="extra var KEY=VALUE for playbooks and checks")
    ] = None,
    identity: IdentityOption = None,
) -> int:
    """Run a recovery runbook: confirm, fence, restore, move the service, verify; RTO and RPO measured."""
    settings = load_settings()
    path = runbook_path(runbook, Path.cwd())
    pairs = [item.partition("=") for item in extra or []]
    malformed = [key for key, sep, _ in pairs if not sep or not key]
    if malformed:
        raise InputError(f"--var {malformed[0]!r} has no KEY=VALUE form", fix="write --var ledger_expected_record=r1")
    for key, _, _ in pairs:
        try:
            check_variable_name(key)  # the same names a project file may set; the value is passed as data
        except ValueError as problem:
            raise InputError(f"--var {problem}", fix="write --var ledger_expected_record=r1") from None
    when = triggered_at.replace(tzinfo=triggered_at.tzinfo or UTC) if triggered_at else None
    recovery = Recovery.open(path, settings, requester=identity_of(identity), drill=drill, triggered_at=when)
    url = use_prefect(settings)
    from flows.recover import recover_flow  # noqa: PLC0415 - Prefect is imported only by commands that need it

    consoles.err.print(
        f"recovery [bold]{recovery.run_id}[/] - Prefect UI {url.removesuffix('/api')}/runs", highlight=False
    )
    log = ProjectLog.for_settings(settings)
    try:
        with following(log, recovery.run_id):
            outcome = recover_flow(
                runbook_file=str(recovery.runbook_file),
                run_id=recovery.run_id,
                requester=recovery.requester,
                drill=drill,
                triggered_at=recovery.triggered_at,
                extra_vars={key: value for key, _, value in pairs},
            )
    finally:
        consoles.out.print(recovery_markdown(log.events(recovery.run_id)), highlight=False)
    return EXIT_OK if outcome in ("recovered", "drill passed") else EXIT_FAILED
