"""The ``itpm`` command: parse arguments, call a service, render the result.

This is the only place that turns errors into exit codes:

- 0: everything ran and every host is fine;
- 1: a host failed a task or a check (a failed rollout);
- 2: bad input (a missing file, a malformed inventory, a pattern matching no host) or hosts that could not be
  reached or whose host key was refused: nothing the tool can fix, something the user must.
"""

from __future__ import annotations

import contextlib
import errno
import getpass
import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from itpm import console as render
from itpm.bookkeeping import BookkeepingError, add_note, book_cost, close_risk, raise_risk
from itpm.errors import ExecutionError, InputError, InventoryError, ItpmError
from itpm.execution.runner import new_run_id, plan_playbook, run_playbook
from itpm.inventory import Inventory, load_inventory
from itpm.lab.fleet import lab_down, lab_status, lab_up
from itpm.log.store import ProjectLog, ProjectLogError, nearly_full
from itpm.models.project import Level, check_variable_name
from itpm.models.results import PlaybookResult, VerificationResult
from itpm.prefect_server import client_environment, ensure_server, healthy, stop_server
from itpm.project_file import load_project, project_schema
from itpm.project_run import ApprovalRefused, ProjectRun, check_approver, step_hosts
from itpm.recovery import Recovery, runbook_path
from itpm.reports.recovery_report import recovery_markdown
from itpm.reports.run_report import run_report
from itpm.reports.run_status import run_status, summary_markdown
from itpm.rollout import plan_batches
from itpm.run_record import find_run, view_of
from itpm.settings import Settings, load_settings
from itpm.verification.runner import verify

__all__ = ["app", "main"]

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Run IT projects as tracked rollouts.")
lab_app = typer.Typer(no_args_is_help=True, help="The lab fleet: isolated SSH hosts on this machine.")
app.add_typer(lab_app, name="lab")
server_app = typer.Typer(no_args_is_help=True, help="The local Prefect server (UI on 127.0.0.1:4200).")
app.add_typer(server_app, name="server")

out = Console()
err = Console(stderr=True)

InventoryOption = Annotated[Path, typer.Option("--inventory", "-i", help="Ansible inventory (file or directory)")]
LimitOption = Annotated[str, typer.Option("--limit", "-l", help="Ansible host pattern, e.g. 'web:!h3'")]
LabNameOption = Annotated[str, typer.Option("--name", help="lab name (1-8 lowercase letters and digits)")]
_DEFAULT_INVENTORY = Path("inventory/lab/hosts.yml")
IdentityOption = Annotated[
    str | None, typer.Option("--as", help="who you are (a team member's name, login or e-mail); default $ITPM_USER")
]


def _identity(given: str | None) -> str:
    return given or os.environ.get("ITPM_USER") or getpass.getuser()


def _use_prefect(settings: Settings) -> str:
    """Point this process's Prefect client at a healthy API (starting the local server); return its URL."""
    url = ensure_server(settings)
    os.environ.update(client_environment(settings))
    # Prefect's API log worker writes "--- Error logging to API ---" to the terminal for every batch of log
    # lines it cannot send while the API is away, unless logging errors are switched off, as in production.
    # Those lines are lost to the UI either way; a run that stops because the API is gone says so, once.
    logging.raiseExceptions = False
    return url


@lab_app.command("up")
def lab_up_command(
    hosts: Annotated[int, typer.Option("--hosts", "-n", help="number of hosts h1..hN")] = 5,
    name: LabNameOption = "lab",
    inventory: Annotated[Path | None, typer.Option(help="where to write the inventory")] = None,
) -> int:
    """Bring up hosts h1..hN (keeping running ones) and write the inventory and known_hosts."""
    status = lab_up(load_settings(), name=name, count=hosts, inventory=inventory)
    out.print(render.lab_table(status))
    return EXIT_OK


@lab_app.command("down")
def lab_down_command(name: LabNameOption = "lab") -> int:
    """Stop every host of the lab and remove its namespaces, links, bridge and generated files."""
    removed = lab_down(load_settings(), name=name)
    out.print(f"lab '{name}': removed {len(removed)} host(s)" + (f": {', '.join(removed)}" if removed else ""))
    return EXIT_OK


@lab_app.command("status")
def lab_status_command(name: LabNameOption = "lab") -> int:
    """Show each lab host's address, group and whether it answers SSH."""
    status = lab_status(load_settings(), name=name)
    if not status.hosts:
        out.print(f"lab '{name}' is not up (itpm lab up --name {name})")
        return EXIT_OK
    out.print(render.lab_table(status))
    return EXIT_OK if len(status.up) == len(status.hosts) else EXIT_FAILED


@app.command("apply")
def apply_command(
    playbook: Annotated[Path, typer.Argument(help="playbook to apply")],
    inventory: InventoryOption = _DEFAULT_INVENTORY,
    limit: LimitOption = "all",
    verify_with: Annotated[
        list[Path] | None, typer.Option("--verify", help="check modules or directories to run after applying")
    ] = None,
) -> int:
    """Apply a playbook to the hosts of an inventory, then (with --verify) prove the result with checks."""
    settings = load_settings()
    hosts = load_inventory(inventory)
    result = run_playbook(playbook, hosts, settings, limit=limit, on_event=render.LiveEvents(err))
    out.print(render.playbook_table(result))
    verification = None
    if verify_with:
        reached = ",".join(result.ok) or None
        if reached is not None:
            verification = verify(verify_with, hosts, settings, limit=reached)
            out.print(render.verification_table(verification))
    return _exit_code(result, verification)


@app.command("plan")
def plan_command(
    playbook: Annotated[Path, typer.Argument(help="playbook to plan")],
    inventory: InventoryOption = _DEFAULT_INVENTORY,
    limit: LimitOption = "all",
) -> int:
    """Show what a playbook would change on each host (check mode with diffs); changes nothing."""
    result = plan_playbook(playbook, load_inventory(inventory), load_settings(), limit=limit)
    out.print(render.playbook_table(result))
    out.print(render.plan_text(result), highlight=False)
    return _exit_code(result, None)


@app.command("verify")
def verify_command(
    checks: Annotated[list[Path], typer.Argument(help="check modules or directories, e.g. checks/baseline")],
    inventory: InventoryOption = _DEFAULT_INVENTORY,
    limit: LimitOption = "all",
) -> int:
    """Run testinfra checks on the hosts of an inventory; changes nothing."""
    result = verify(checks, load_inventory(inventory), load_settings(), limit=limit)
    out.print(render.verification_table(result))
    if result.succeeded:
        return EXIT_OK
    return EXIT_BAD_INPUT if all(c.unreachable for c in result.failed.values()) else EXIT_FAILED


@app.command("validate")
def validate_command(project_file: Annotated[Path, typer.Argument(help="projects/<name>.yaml")]) -> int:
    """Check a project file (and its scope in the inventory) without running anything."""
    project = load_project(project_file)
    # A title or path is the user's text: `[/]` in it is not console markup, an escape code not a terminal command.
    out.print(
        f"[green]valid[/]: {escape(_printable(f'{project_file} - {project.title}'))} "
        f"({project.kind.value}, {len(project.steps)} steps)"
    )
    if project.scope.inventory.exists():
        inventory = load_inventory(project.scope.inventory)
        for step in project.steps:
            hosts = step_hosts(inventory, project, step)
            batches = plan_batches(step.name, hosts, step.strategy)
            gate = f", approval by {' or '.join(step.strategy.approval.roles)}" if step.strategy.approval else ""
            out.print(
                escape(
                    f"  step {step.name}: {len(hosts)} hosts in {len(batches)} batches"
                    + gate
                    + ": "
                    + "; ".join(f"{b.name} {','.join(b.hosts)}" for b in batches)
                ),
                highlight=False,
            )
    else:
        out.print(
            escape(f"  inventory {project.scope.inventory} does not exist yet (itpm lab up makes the lab's)"),
            highlight=False,
        )
    return EXIT_OK


@app.command("schema")
def schema_command() -> int:
    """Print the JSON Schema of project files (for editors)."""
    out.print_json(json.dumps(project_schema()))
    return EXIT_OK


@app.command("run")
def run_command(
    project_file: Annotated[Path, typer.Argument(help="projects/<name>.yaml")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="audit and plan only: change nothing")] = False,
    identity: IdentityOption = None,
    lock_wait: Annotated[
        int | None, typer.Option(help="seconds to wait for hosts another run holds (0: fail at once)")
    ] = None,
) -> int:
    """Run a project: audit, plan, approval, batches, re-audit, closure; tracked in Prefect and the project log."""
    if lock_wait is not None:
        os.environ["ITPM_LOCK_WAIT_SECONDS"] = str(lock_wait)  # read by the flow's settings in this process
    settings = load_settings()
    project = load_project(project_file)
    load_inventory(project.scope.inventory).select(project.scope.hosts)  # bad scope: exit 2 before anything runs
    run_id = new_run_id(project.name)
    return _run_flow(settings, project_file.resolve(), run_id, _identity(identity), dry_run)


@app.command("resume")
def resume_command(run_id: Annotated[str, typer.Argument(help="the run id printed by itpm run")]) -> int:
    """Resume a crashed or halted run: hosts already applied and verified are skipped."""
    settings = load_settings()
    run = ProjectRun.reopen(run_id, settings)
    return _run_flow(settings, run.project_file, run_id, run.requester, dry_run=False)


def _run_flow(settings: Settings, project_file: Path, run_id: str, requester: str, dry_run: bool) -> int:
    url = _use_prefect(settings)
    from flows.kinds import flow_for  # noqa: PLC0415 - Prefect is imported only by commands that need it

    project_flow = flow_for(load_project(project_file).kind)

    err.print(f"run [bold]{run_id}[/] - Prefect UI {url.removesuffix('/api')}/v2/runs, log: itpm log {run_id}")
    log = ProjectLog.for_settings(settings)
    try:
        with _following(log, run_id):
            outcome = project_flow(project_file=str(project_file), run_id=run_id, requester=requester, dry_run=dry_run)
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
    out.print(summary_markdown(status), highlight=False)
    out.print(f"where it stands: itpm status {run_id}; the report: itpm report {run_id}", highlight=False)
    # Completed with failures inside max_fail_percent is still a rollout with failed hosts: not a clean 0.
    return EXIT_OK if outcome in ("completed", "dry_run") and not status.problems else EXIT_FAILED


@contextlib.contextmanager
def _following(log: ProjectLog, run_id: str) -> Iterator[None]:
    """Print the run's log events as they are committed while the block runs, and the rest after it."""
    stop = threading.Event()
    follower = threading.Thread(target=_follow, args=(log, run_id, stop), daemon=True)
    follower.start()
    try:
        yield
    finally:
        stop.set()
        follower.join(timeout=5)


def _follow(log: ProjectLog, run_id: str, stop: threading.Event) -> None:
    """Print the run's log events as they are committed, until ``stop`` is set (then print the rest)."""
    last = 0
    while True:
        done = stop.is_set()
        # A log that cannot be read for a moment (a full disk) is read again on the next tick; if that stops
        # the run, the run's own error says so.
        with contextlib.suppress(ProjectLogError):
            for event_id, entry in log.events_with_ids(run_id, after_id=last):
                last = event_id
                err.print(render.event_line(entry), highlight=False)
        if done:
            return
        stop.wait(0.5)


def _run_stopped_by(error: Exception, settings: Settings, url: str, run_id: str) -> ExecutionError | None:
    """Return what a person needs to hear of an outside failure that stopped a run, or None if it is none of them.

    The failures: the disk itpm writes to is full, the Prefect API stopped answering (after Prefect's client
    retried for about a minute: PREFECT_CLIENT_MAX_RETRIES). Every event logged before them is in the project log.
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
    recovery = Recovery.open(path, settings, requester=_identity(identity), drill=drill, triggered_at=when)
    url = _use_prefect(settings)
    from flows.recover import recover_flow  # noqa: PLC0415 - Prefect is imported only by commands that need it

    err.print(f"recovery [bold]{recovery.run_id}[/] - Prefect UI {url.removesuffix('/api')}/runs", highlight=False)
    log = ProjectLog.for_settings(settings)
    try:
        with _following(log, recovery.run_id):
            outcome = recover_flow(
                runbook_file=str(recovery.runbook_file),
                run_id=recovery.run_id,
                requester=recovery.requester,
                drill=drill,
                triggered_at=recovery.triggered_at,
                extra_vars={key: value for key, _, value in pairs},
            )
    finally:
        out.print(recovery_markdown(log.events(recovery.run_id)), highlight=False)
    return EXIT_OK if outcome in ("recovered", "drill passed") else EXIT_FAILED


@app.command("approve")
def approve_command(
    run_id: Annotated[str, typer.Argument(help="the run waiting for approval")],
    identity: IdentityOption = None,
    reject: Annotated[bool, typer.Option("--reject", help="reject the step instead")] = False,
    comment: Annotated[str, typer.Option(help="why; recorded in the project log")] = "",
) -> int:
    """Approve (or reject) the step a run is waiting on; the requester cannot approve their own run."""
    settings = load_settings()
    run = ProjectRun.reopen(run_id, settings)
    waiting = run_status(run.history()).waiting_for_approval
    if not waiting:
        raise ApprovalRefused(
            f"run {run_id} is not waiting for an approval", fix=f"itpm log {run_id} shows where it is"
        )
    approver = _identity(identity)
    step = run.project.step(waiting)
    reason = check_approver(run.project, step, approver, run.requester)
    if reason:
        run.decide_approval(step, approver=approver, approve=not reject, comment=comment)  # logged as refused
        raise ApprovalRefused(reason, fix="ask a team member with the required role to approve")
    _use_prefect(settings)
    from flows.approval import answer_approval  # noqa: PLC0415 - Prefect is imported only by commands that need it

    answer_approval(run_id, approver=approver, approve=not reject, comment=comment)
    out.print(f"{'rejected' if reject else 'approved'} step {step.name} of run {run_id} as {approver}")
    return EXIT_OK


@app.command("log")
def log_command(
    run_id: Annotated[str, typer.Argument(help="a run id")],
    host: Annotated[str | None, typer.Option(help="only events of this host")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="keep printing new events until the run ends")] = False,
) -> int:
    """Print a run's project log: phases, batches, hosts, approvals, rollbacks, halts."""
    log = ProjectLog.for_settings(load_settings())
    if not log.events(run_id, kinds=["run_started"]):
        ProjectRun.reopen(run_id, load_settings())  # raises RunNotFound with the recent run ids
    last = 0
    while True:
        for event_id, entry in log.events_with_ids(run_id, host=host, after_id=last):
            last = event_id
            out.print(render.event_line(entry), highlight=False)
        if not follow or log.events(run_id, kinds=["run_finished"]):
            return EXIT_OK
        time.sleep(1.0)


@app.command("status")
def status_command(
    reference: Annotated[
        str | None, typer.Argument(help="a run id, or a project (name or file) for its latest run; default: latest run")
    ] = None,
) -> int:
    """Show where a run stands on one screen: progress, schedule, milestones, budget, risks, what needs attention."""
    log = ProjectLog.for_settings(load_settings())
    view = view_of(log, find_run(log, reference))
    out.print(render.project_screen(view))
    return EXIT_OK


@app.command("report")
def report_command(
    reference: Annotated[
        str | None, typer.Argument(help="a run id, or a project (name or file) for its latest run; default: latest run")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="directory for the report (default: .itpm/reports)")
    ] = None,
) -> int:
    """Write a run's status report, retrospective and next steps as self-contained HTML and as Markdown."""
    settings = load_settings()
    log = ProjectLog.for_settings(settings)
    run_id = find_run(log, reference)
    view = view_of(log, run_id)
    inventory: Inventory | None = None
    if view.project.compliance is not None:  # only the compliance part reads the inventory (its waivers' hosts)
        try:
            inventory = load_inventory(view.project.scope.inventory)
        except InventoryError as error:
            out.print(f"without the compliance part: {error.message}", highlight=False)
    files = run_report(view, log.events(run_id), inventory).write(out_dir or settings.reports_dir)
    out.print(f"{files.html}\n{files.markdown}", highlight=False)
    return EXIT_OK


@app.command("book")
def book_command(
    run_id: Annotated[str, typer.Argument(help="the run the cost belongs to")],
    *,
    note: Annotated[str, typer.Option(help="what the cost was for")],
    hours: Annotated[float | None, typer.Option(help="team time, at the role's rate from the project budget")] = None,
    role: Annotated[str | None, typer.Option(help="the role the hours are paid at (default: yours)")] = None,
    amount: Annotated[str | None, typer.Option(help="money spent on anything else, in the budget's currency")] = None,
    identity: IdentityOption = None,
) -> int:
    """Book a cost against the project's budget: hours of team time, or an amount (a vendor invoice, a part)."""
    try:
        money = Decimal(amount) if amount is not None else None
    except InvalidOperation:
        raise BookkeepingError(f"--amount {amount!r} is not a number", fix="give it like 1250.00") from None
    log = ProjectLog.for_settings(load_settings())
    booked = book_cost(log, run_id, by=_identity(identity), note=note, hours=hours, role=role, amount=money)
    out.print(f"booked {booked.currency} {booked.amount:,.2f} ({booked.category}) on run {run_id}")
    return EXIT_OK


class _RiskAction(StrEnum):
    RAISE = "raise"
    CLOSE = "close"


@app.command("risk")
def risk_command(
    run_id: Annotated[str, typer.Argument(help="the run")],
    action: Annotated[_RiskAction, typer.Argument(help="raise or close")],
    risk_id: Annotated[str, typer.Argument(help="the risk's id, e.g. R1 (new ids need --title)")],
    *,
    note: Annotated[str, typer.Option(help="what happened, or why it is closed")] = "",
    title: Annotated[str | None, typer.Option(help="a new risk's title")] = None,
    likelihood: Annotated[Level | None, typer.Option(help="low, medium or high")] = None,
    impact: Annotated[Level | None, typer.Option(help="low, medium or high")] = None,
    owner: Annotated[str | None, typer.Option(help="who owns it (default: you)")] = None,
    materialized: Annotated[bool, typer.Option(help="it happened, not only became likely")] = False,
    identity: IdentityOption = None,
) -> int:
    """Raise a risk (new, or one of the project file's materializing) or close an open one."""
    log = ProjectLog.for_settings(load_settings())
    by = _identity(identity)
    if action is _RiskAction.CLOSE:
        close_risk(log, run_id, risk_id, by=by, note=note)
        out.print(f"closed risk {risk_id} of run {run_id}")
        return EXIT_OK
    raise_risk(
        log,
        run_id,
        risk_id,
        by=by,
        note=note,
        title=title,
        likelihood=likelihood.value if likelihood else None,
        impact=impact.value if impact else None,
        owner=owner,
        materialized=materialized,
    )
    out.print(f"raised risk {risk_id} on run {run_id}")
    return EXIT_OK


@app.command("note")
def note_command(
    run_id: Annotated[str, typer.Argument(help="the run")],
    text: Annotated[str, typer.Argument(help="the note")],
    identity: IdentityOption = None,
) -> int:
    """Add a note to a run's record (a decision, a call with a vendor, a lesson learned)."""
    add_note(ProjectLog.for_settings(load_settings()), run_id, author=_identity(identity), text=text)
    out.print(f"noted on run {run_id}")
    return EXIT_OK


@app.command("demo")
def demo_command(  # typer reads options from keyword-only parameters as well
    *,
    hosts: Annotated[int, typer.Option("--hosts", "-n", help="lab hosts to run the project on")] = 12,
    project_file: Annotated[Path, typer.Option("--project", help="the project to run")] = Path(
        "projects/network-config.yaml"
    ),
    deployment: Annotated[str, typer.Option(help="its deployment in prefect.yaml")] = "network-config",
    lab: LabNameOption = "lab",
    requester: Annotated[str, typer.Option(help="who asks for the run")] = "dana",
    approver: Annotated[str, typer.Option(help="who grants its approval (another person with the role)")] = "chris",
) -> int:
    """Run a project the whole way: lab, Prefect server and UI, deployments, worker, a run, its approval, a report."""
    settings = load_settings()
    project = load_project(project_file)
    url = _use_prefect(settings)
    from flows import demo  # noqa: PLC0415 - Prefect is imported only by commands that need it

    def say(line: str) -> None:
        err.print(f"[bold]demo:[/] {escape(line)}", highlight=False)

    demo.prepare_lab(settings, project, hosts=hosts, lab=lab, say=say)
    worker_log = demo.register_deployments(settings, say)
    ui = url.removesuffix("/api")
    run = demo.start_run(project, project_file.resolve(), deployment, requester, ui)
    say(f"run {run.run_id} of deployment {deployment} for {requester}: {run.page}")
    log = ProjectLog.for_settings(settings)
    with _following(log, run.run_id):
        demo.wait_until(log, run, approval_requested=True, worker_log=worker_log)
        demo.approve(run, approver, say)
        outcome = demo.wait_until(log, run, worker_log=worker_log)
    view = view_of(log, run.run_id)
    out.print(render.project_screen(view))
    out.print(
        "\n".join(
            [
                f"Run {run.run_id}: {outcome}.",
                f"  Prefect UI       {ui}  (this run: {run.page})",
                f"  where it stands  .venv/bin/itpm status {run.run_id}",
                f"  its log          .venv/bin/itpm log {run.run_id}",
                f"  the report       {demo.report_path(settings, view)}",
                "  tear down        make stop",
            ]
        ),
        highlight=False,
        soft_wrap=True,  # addresses and paths stay whole on one line, to click or copy, whatever the width
    )
    return EXIT_OK if outcome == "completed" and not view.status.problems else EXIT_FAILED


@server_app.command("start")
def server_start_command() -> int:
    """Start the local Prefect server (SQLite in the state directory) if it is not running."""
    url = ensure_server(load_settings())
    out.print(f"Prefect API {url}, UI {url.removesuffix('/api')}")
    return EXIT_OK


@server_app.command("stop")
def server_stop_command() -> int:
    """Stop the local Prefect server itpm started, and its worker."""
    stopped = stop_server(load_settings())
    out.print("stopped" if stopped else "no local server was running")
    return EXIT_OK


@server_app.command("status")
def server_status_command() -> int:
    """Say whether the Prefect API answers."""
    settings = load_settings()
    url = client_environment(settings)["PREFECT_API_URL"]
    up = healthy(url)
    out.print(f"Prefect API {url}: {'up' if up else 'down'}")
    return EXIT_OK if up else EXIT_FAILED


def _exit_code(result: PlaybookResult, verification: VerificationResult | None) -> int:
    task_failures = len(result.failed) - len(result.unreachable)
    check_failures = 0 if verification is None else sum(1 for c in verification.failed.values() if not c.unreachable)
    if task_failures or check_failures or result.runner_status in ("timeout", "canceled"):
        return EXIT_FAILED
    if result.unreachable:
        err.print(
            f"[bold magenta]unreachable:[/] {', '.join(result.unreachable)}. "
            "fix: check the host is up (itpm lab status) and its address and key in the inventory"
        )
        return EXIT_BAD_INPUT
    return EXIT_OK


# Control characters other than newline and tab: a value quoted in a message must not drive the terminal.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _printable(text: str) -> str:
    r"""Return ``text`` with control characters spelt as escapes: ``_printable('a\x1b[2J') == 'a\\x1b[2J'``."""
    return _CONTROL_CHARACTERS.sub(lambda found: f"\\x{ord(found[0]):02x}", text)


def main() -> None:
    """Entry point of the ``itpm`` script: run the app and exit with the code its outcome maps to."""
    try:
        code = app(standalone_mode=False)
    except typer.Abort:  # Ctrl-C at a prompt
        err.print("aborted")
        sys.exit(EXIT_FAILED)
    except typer.TyperException as error:  # usage errors: unknown option, missing argument (typer's own click)
        show = getattr(error, "show", None)
        if show is not None:
            show()
        else:
            err.print(f"[bold red]error:[/] {error}")
        sys.exit(EXIT_BAD_INPUT)
    except ItpmError as error:
        # escape(): messages quote file names and values people wrote; `[/x]` in one is text, not console markup.
        err.print(f"[bold red]error:[/] {escape(_printable(error.message))}", highlight=False)
        if error.fix:
            err.print(f"  [bold]fix:[/] {escape(_printable(error.fix))}", highlight=False)
        sys.exit(error.exit_code)
    sys.exit(code if isinstance(code, int) else EXIT_OK)
