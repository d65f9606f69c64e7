"""A logged run as the reports see it: which run a person means, its project file, and its PM view.

``itpm status``, ``itpm report`` and the flow's artifacts all compute the view here, so they show the same numbers.

>>> run_id = find_run(log, "baseline-rollout")  # a run id, project name or file; None: the latest  # doctest: +SKIP
>>> view_of(log, run_id).percent_complete  # doctest: +SKIP
60.0
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from itpm.errors import ItpmError, ProjectFileError
from itpm.log.events import CostBooked, Event, RunStarted, now
from itpm.log.store import ProjectLog
from itpm.models.project import Project
from itpm.project_file import load_project
from itpm.reports.project_view import ProjectView, project_view

__all__ = ["RunNotFound", "find_run", "prior_spend", "project_of", "started_event", "view_of"]


class RunNotFound(ItpmError):
    """No run with that id (or of that project) is in the project log."""

    exit_code = 2


def started_event(log: ProjectLog, run_id: str) -> RunStarted:
    """Return the run's first ``RunStarted`` event (raises RunNotFound with the recent run ids)."""
    started = [e for e in log.events(run_id, kinds=["run_started"]) if isinstance(e, RunStarted)]
    if not started:
        known = ", ".join(log.run_ids()[-5:]) or "none yet"
        raise RunNotFound(f"no run {run_id!r} in the project log {log.url}", fix=f"recent runs: {known}")
    return started[0]


def find_run(log: ProjectLog, reference: str | None) -> str:
    """Return the id of the run ``reference`` means: a run id, else the latest run of a project (name or file).

    No reference means the latest run in the log.
    """
    runs = log.run_ids()
    if reference is None:
        if not runs:
            raise RunNotFound(
                f"the project log {log.url} has no runs yet", fix="start one: itpm run projects/<name>.yaml"
            )
        return runs[-1]
    if reference in runs:
        return reference
    name = reference
    if reference.endswith((".yaml", ".yml")) and Path(reference).is_file():
        name = load_project(Path(reference)).name
    of_project = log.run_ids(project=name)
    if not of_project:
        known = ", ".join(runs[-5:]) or "none yet"
        raise RunNotFound(
            f"{reference!r} is neither a run id nor a project with runs in {log.url}", fix=f"recent runs: {known}"
        )
    return of_project[-1]


def project_of(started: RunStarted) -> Project:
    """Return the project file the run was started from, as it is now (raises ProjectFileError if it is gone)."""
    path = Path(started.project_file)
    if not path.is_file():
        raise ProjectFileError(
            f"run {started.run_id} was started from {path}, which no longer exists",
            fix="restore the project file (from version control) to see the run's plan, budget and milestones",
        )
    return load_project(path)


def view_of(
    log: ProjectLog, run_id: str, *, as_of: datetime | None = None, project: Project | None = None
) -> ProjectView:
    """Return the PM view of the run, counting what earlier runs of the same project spent against the budget.

    The view carries the head of the run's hash chain (``chain_head``), which the status report shows.

    ``project`` is the run's project file as already loaded (a run in progress); None reads the file the run was
    started from.
    """
    project = project or project_of(started_event(log, run_id))
    events: list[Event] = log.events(run_id)
    view = project_view(project, events, as_of=as_of or now(), prior_spend=prior_spend(log, project.name, run_id))
    # Read after the events: the head covers at least every event the view shows.
    return replace(view, chain_head=log.chain_head(run_id))


def prior_spend(log: ProjectLog, project: str, run_id: str) -> Decimal:
    """Return what the project's runs logged before this one spent (a budget belongs to the project).

    A run not started yet counts everything logged so far.
    """
    started = log.events_with_ids(run_id, kinds=["run_started"])
    first = started[0][0] if started else math.inf
    return sum(
        (
            entry.amount
            for event_id, entry in log.events_with_ids(project=project, kinds=["cost_booked"])
            if isinstance(entry, CostBooked) and entry.run_id != run_id and event_id < first
        ),
        Decimal(0),
    )
