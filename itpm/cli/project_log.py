"""``itpm log``: a run's project log printed (``itpm log RUN``), or its hash chain checked (``itpm log verify``).

``log`` is a group whose default command is ``show``: ``itpm log RUN [--host H] [--follow]`` reads as it did
before the group existed, and ``itpm log show RUN`` says the same (for a run that happens to be named
``verify``). ``itpm log verify [RUN]`` exits 0 when every chain checked holds, 1 when one does not (a failed
check, as a failed rollout is), 2 for a run the log does not have.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer

from itpm import console as render
from itpm.cli import consoles
from itpm.cli.exit_codes import EXIT_FAILED, EXIT_OK
from itpm.cli.typer_app import DefaultCommandGroup, app
from itpm.errors import InputError
from itpm.log.chain import SHORT_HASH
from itpm.log.chain_audit import ChainReport, verify_chain
from itpm.log.store import ProjectLog
from itpm.project_run import ProjectRun
from itpm.run_record import RunNotFound
from itpm.settings import load_settings

__all__ = ["log_app", "show_command", "verify_command"]


class _ShowByDefault(DefaultCommandGroup):
    """The ``itpm log`` group: arguments that name none of its commands go to ``show`` (``itpm log RUN``)."""

    default_command = "show"


log_app = typer.Typer(
    cls=_ShowByDefault,
    help="A run's project log: `itpm log RUN` prints it, `itpm log verify [RUN]` checks its hash chain.",
)
app.add_typer(log_app, name="log")


@log_app.command("show")
def show_command(
    run_id: Annotated[str, typer.Argument(help="a run id")],
    host: Annotated[str | None, typer.Option(help="only events of this host")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="keep printing new events until the run ends")] = False,
) -> int:
    """Print a run's project log: phases, batches, hosts, approvals, rollbacks, halts.

    `itpm log verify RUN` checks that no event of it was edited, deleted, inserted or reordered.
    """
    log = ProjectLog.for_settings(load_settings())
    if not log.events(run_id, kinds=["run_started"]):
        ProjectRun.reopen(run_id, load_settings())  # raises RunNotFound with the recent run ids
    last = 0
    while True:
        for event_id, entry in log.events_with_ids(run_id, host=host, after_id=last):
            last = event_id
            consoles.out.print(render.event_line(entry), highlight=False)
        if not follow or log.events(run_id, kinds=["run_finished"]):
            return EXIT_OK
        time.sleep(1.0)


@log_app.command("verify")
def verify_command(
    run_id: Annotated[str | None, typer.Argument(help="a run id; default: every run in the log")] = None,
    head: Annotated[
        str | None,
        typer.Option(help="a head noted earlier (its first 12 hex digits or more): it must still be in the chain"),
    ] = None,
) -> int:
    """Check the project log's hash chains: name the first event edited, deleted, inserted or reordered."""
    if head is not None and run_id is None:
        raise InputError("--head is the head of one run's chain", fix="give the run: itpm log verify RUN --head ...")
    log = ProjectLog.for_settings(load_settings())
    report = verify_chain(log, run_id)
    if run_id is not None and not report.runs:
        known = ", ".join(log.run_ids()[-5:]) or "none yet"
        raise RunNotFound(f"no run {run_id!r} in the project log {log.url}", fix=f"recent runs: {known}")
    for line in _lines(report, head):
        consoles.out.print(consoles.printable(line), highlight=False, markup=False)
    held = report.ok and (head is None or report.runs[0].has(head))
    return EXIT_OK if held else EXIT_FAILED


def _lines(report: ChainReport, head: str | None) -> list[str]:
    """Return what ``itpm log verify`` prints: a line per run, the noted head's fate, a closing count."""
    lines = [run.summary for run in report.runs]
    if report.unchained_through is None:
        lines.append("the record of where the chain began (table chain_origin) is gone: it was deleted")
    if head is not None:
        run = report.runs[0]
        noted = head.strip()
        if len(noted) < SHORT_HASH:
            lines.append(f"the head noted, {noted}, is too short to compare: give at least {SHORT_HASH} hex digits")
        elif run.has(noted):
            lines.append(f"the head noted, {noted}, is in the chain: nothing before it was changed")
        else:
            lines.append(f"the head noted, {noted}, is not in the chain: events up to it were changed or deleted")
    broken = len(report.broken)
    if broken:
        lines.append(f"{broken} of {len(report.runs)} runs tampered with")
    elif report.ok and (head is None or report.runs[0].has(head)):
        lines.append(f"{len(report.runs)} runs verified" if len(report.runs) != 1 else "1 run verified")
    return lines
