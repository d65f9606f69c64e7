"""``itpm evidence``: a run's evidence archive written (``itpm evidence RUN``), or checked (``itpm evidence verify``).

``evidence`` is a group whose default command is ``build``: ``itpm evidence RUN [--out PATH]`` writes the archive
(``itpm evidence build RUN`` says the same, for a run named ``verify``). ``itpm evidence verify ARCHIVE`` exits 0
when it verifies, 1 when it does not, 2 for a file that is missing or not an archive at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from itpm.cli import consoles
from itpm.cli.exit_codes import EXIT_OK, evidence_exit_code
from itpm.cli.typer_app import DefaultCommandGroup, app
from itpm.errors import ProjectFileError
from itpm.evidence import build_evidence, verify_evidence
from itpm.log.store import ProjectLog
from itpm.models.project import Project
from itpm.run_record import find_run, project_of, started_event
from itpm.settings import load_settings

__all__ = ["build_command", "evidence_app", "verify_command"]


class _BuildByDefault(DefaultCommandGroup):
    """The ``itpm evidence`` group: arguments that name none of its commands go to ``build``."""

    default_command = "build"


evidence_app = typer.Typer(
    cls=_BuildByDefault,
    help="Evidence for an auditor: `itpm evidence RUN` writes one archive, `itpm evidence verify ARCHIVE` checks it.",
)
app.add_typer(evidence_app, name="evidence")


def _say(line: str) -> None:
    consoles.out.print(consoles.printable(line), highlight=False, markup=False)


@evidence_app.command("build")
def build_command(
    reference: Annotated[str, typer.Argument(help="a run id, or a project (name or file) for its latest run")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="the archive's path (.tar.gz), or a directory (default: .itpm/reports/evidence)"),
    ] = None,
) -> int:
    """Write a run's evidence archive: its chained events, change record, signed approvals and how to check them.

    The auditor checks it offline with python3 and ssh-keygen (VERIFY.md inside), or with `itpm evidence verify`.
    """
    settings = load_settings()
    log = ProjectLog.for_settings(settings)
    run_id = find_run(log, reference)
    project: Project | None = None
    try:
        project = project_of(started_event(log, run_id))
    except ProjectFileError as gone:  # the events are the evidence; the file adds objectives and planned risks
        _say(f"without the project file's objectives and risks: {gone.message}")
    path = build_evidence(log, run_id, out or settings.reports_dir / "evidence", project=project)
    _say(str(path))
    return EXIT_OK


@evidence_app.command("verify")
def verify_command(
    archive: Annotated[Path, typer.Argument(help="an archive `itpm evidence RUN` wrote")],
    head: Annotated[
        str | None,
        typer.Option(help="a head of the run's chain noted elsewhere (12 hex digits or more): it must be in the chain"),
    ] = None,
) -> int:
    """Check an evidence archive as an auditor would: manifest, hash chain, change record, signatures."""
    report = verify_evidence(archive, head=head)
    for problem in report.problems:
        _say(problem.sentence)
    for attempt in report.attempts:
        _say(attempt)
    _say(f"{archive}: {report.summary}")
    return evidence_exit_code(report)
