"""A run's full report: its status, then compliance, retrospective and next steps, made in this one place.

The project flow writes it when a run ends (and shows its sections in the Prefect UI); ``itpm report`` writes it
again at any time. Both take it from here, so the two cannot come to differ.

>>> report = run_report(view, events, inventory)  # doctest: +SKIP
>>> [s.title for s in report.sections][:2]  # doctest: +SKIP
['Compliance', 'Compliance findings (after the change), with evidence']
>>> report.write(Path(".itpm/reports"))  # doctest: +SKIP
ReportFiles(html=PosixPath('.itpm/reports/demo-r1.html'), markdown=PosixPath('.itpm/reports/demo-r1.md'))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from itpm.inventory import Inventory
from itpm.log.events import Event, now
from itpm.reports.compliance_report import project_compliance
from itpm.reports.project_view import ProjectView
from itpm.reports.report_files import ReportFiles, write_report
from itpm.reports.retrospective import next_steps_sections, retrospective
from itpm.reports.section import ReportSection

__all__ = ["RunReport", "run_report"]


@dataclass(frozen=True)
class RunReport:
    """A run's full report: the status (``view``), then the sections that follow it, in this order."""

    view: ProjectView
    compliance: tuple[ReportSection, ...]  # none unless a compliance project was audited
    retrospective: tuple[ReportSection, ...]
    next_steps: tuple[ReportSection, ...]

    @property
    def sections(self) -> tuple[ReportSection, ...]:
        """Return every section after the status, as the report shows them: compliance first."""
        return (*self.compliance, *self.retrospective, *self.next_steps)

    def write(self, directory: Path) -> ReportFiles:
        """Write the report as HTML and Markdown in ``directory``; return the two files (see report_files.py)."""
        return write_report(self.view, self.sections, directory)


def run_report(
    view: ProjectView, events: Sequence[Event], inventory: Inventory | None, today: date | None = None
) -> RunReport:
    """Return the full report of ``view``'s run, from its log ``events``.

    ``inventory`` gives the hosts compliance waivers name; None leaves the compliance part out (its inventory
    could not be read). Waivers hold through their expiry date, judged on ``today`` (default: today in UTC).
    """
    compliance = (
        project_compliance(view.project, events, inventory, today or now().date()) if inventory is not None else ()
    )
    return RunReport(
        view=view,
        compliance=compliance,
        retrospective=retrospective(view, events),
        next_steps=next_steps_sections(view, events),
    )
