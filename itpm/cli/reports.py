"""``itpm status`` and ``report``: a run's record read back, as one screen or the full report.

``itpm log``, the record as events, is project_log.py's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from itpm import console as render
from itpm.cli import consoles
from itpm.cli.exit_codes import EXIT_OK
from itpm.cli.typer_app import app
from itpm.errors import InventoryError
from itpm.inventory import Inventory, load_inventory
from itpm.log.store import ProjectLog
from itpm.reports.run_report import run_report
from itpm.run_record import find_run, view_of
from itpm.settings import load_settings

__all__ = ["report_command", "status_command"]

RunReference = Annotated[
    str | None, typer.Argument(help="a run id, or a project (name or file) for its latest run; default: latest run")
]


@app.command("status")
def status_command(reference: RunReference = None) -> int:
    """Show where a run stands on one screen: progress, schedule, milestones, budget, risks, what needs attention."""
    log = ProjectLog.for_settings(load_settings())
    view = view_of(log, find_run(log, reference))
    consoles.out.print(render.project_screen(view))
    return EXIT_OK


@app.command("report")
def report_command(
    reference: RunReference = None,
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
            consoles.out.print(f"without the compliance part: {error.message}", highlight=False)
    files = run_report(view, log.events(run_id), inventory).write(out_dir or settings.reports_dir)
    consoles.out.print(f"{files.html}\n{files.markdown}", highlight=False)
    return EXIT_OK
