"""The status report on disk: the HTML page and the Markdown text side by side, each replaced atomically.

>>> write_report(view, sections, Path("reports"))  # doctest: +SKIP
ReportFiles(html=PosixPath('reports/demo-r1.html'), markdown=PosixPath('reports/demo-r1.md'))
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from itpm.atomic_file import write_atomic
from itpm.reports.html_report import render_html
from itpm.reports.markdown_report import render_markdown
from itpm.reports.project_view import ProjectView
from itpm.reports.section import ReportSection

__all__ = ["ReportFiles", "report_name", "write_report"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")  # dashes too, so that a run of them collapses into one


@dataclass(frozen=True)
class ReportFiles:
    """Where a status report was written."""

    html: Path
    markdown: Path


def report_name(view: ProjectView) -> str:
    """Return the file name, without suffix, of the report of ``view``'s run: ``'demo-r1'``.

    Run ids made by itpm already start with the project name (``'demo-20261126T100000-3f9a1c'``), so it is not
    repeated; a run that has not started is ``'<project>-not-started'``.
    """
    project, run = view.project.name, view.status.run_id or "not-started"
    name = run if run.startswith(f"{project}-") else f"{project}-{run}"
    # A run id comes from the log; it must not reach outside the directory or hide the file.
    return _UNSAFE.sub("-", name).strip("-") or project


def write_report(view: ProjectView, sections: Sequence[ReportSection], directory: Path) -> ReportFiles:
    """Write the report of ``view``'s run, then ``sections``, as ``<name>.html`` and ``<name>.md`` in ``directory``.

    Each file is replaced atomically: a reader (a browser, a file share) sees the previous report or the new one.
    """
    name = report_name(view)
    files = ReportFiles(html=directory / f"{name}.html", markdown=directory / f"{name}.md")
    write_atomic(files.html, render_html(view, sections))
    write_atomic(files.markdown, render_markdown(view, sections))
    return files
