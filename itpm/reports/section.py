"""A titled part of a report in plain words, for the parts computed elsewhere (retrospective, next steps).

The Markdown and HTML renderers show any section the same way, so an analysis never has to know its output format.
Text may hold `backticks` for commands; the renderers turn them into code.

>>> ReportSection("Next steps", bullets=("Resume the run: `itpm resume r1`",))
ReportSection(title='Next steps', paragraphs=(), bullets=('Resume the run: `itpm resume r1`',), table=())
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ReportSection"]


@dataclass(frozen=True)
class ReportSection:
    """Paragraphs, then bullet points, then a table (rows with the same keys, in column order)."""

    title: str
    paragraphs: tuple[str, ...] = ()
    bullets: tuple[str, ...] = ()
    table: tuple[dict[str, str], ...] = ()
