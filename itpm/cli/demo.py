"""``itpm demo``: one project taken the whole way a real rollout goes, on the lab (the steps are flows/demo.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from itpm import console as render
from itpm.cli import consoles
from itpm.cli.exit_codes import EXIT_FAILED, EXIT_OK
from itpm.cli.following import following
from itpm.cli.typer_app import LabNameOption, app, use_prefect
from itpm.log.store import ProjectLog
from itpm.project_file import load_project
from itpm.run_record import view_of
from itpm.settings import load_settings

__all__ = ["demo_command"]


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
    url = use_prefect(settings)
    from flows import demo  # noqa: PLC0415 - Prefect is imported only by commands that need it

    def say(line: str) -> None:
        consoles.err.print(f"[bold]demo:[/] {escape(line)}", highlight=False)

    demo.prepare_lab(settings, project, hosts=hosts, lab=lab, say=say)
    worker_log = demo.register_deployments(settings, say)
    ui = url.removesuffix("/api")
    run = demo.start_run(project, project_file.resolve(), deployment, requester, ui)
    say(f"run {run.run_id} of deployment {deployment} for {requester}: {run.page}")
    log = ProjectLog.for_settings(settings)
    with following(log, run.run_id):
        demo.wait_until(log, run, approval_requested=True, worker_log=worker_log)
        demo.approve(run, approver, say)
        outcome = demo.wait_until(log, run, worker_log=worker_log)
    view = view_of(log, run.run_id)
    consoles.out.print(render.project_screen(view))
    consoles.out.print(
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
