"""The project status report as Markdown, for a wiki page, an e-mail or a Prefect artifact.

Text from the log (host names, comments, risk notes) is escaped so that a Markdown renderer shows it as written:
``<script>`` stays text, a ``|`` does not split a table cell. `Backtick spans` stay code.

>>> print(render_markdown(view))  # doctest: +SKIP
# Demo rollout
<BLANKLINE>
- **Run**: `r1`
- **Requested by**: dana
- **State**: running (execution phase)
- **As of**: 2026-11-26 11:00 UTC
<BLANKLINE>
## Progress
<BLANKLINE>
5 of 10 host-steps verified (50%).
...
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from itpm.reports.project_view import ProjectView
from itpm.reports.section import ReportSection
from itpm.reports.status_report import status_report

__all__ = ["render_markdown", "section_markdown"]

_CODE_SPAN = re.compile(r"(`[^`]*`)")
_BLOCK_START = re.compile(r"^(\s*)([#>+*-]|\d+[.)])")  # would start a heading, quote, list item


def render_markdown(view: ProjectView, sections: Sequence[ReportSection] = ()) -> str:
    """Return the status report of ``view``'s run, then ``sections``, as one Markdown document."""
    report = status_report(view)
    lines = [f"# {_text(report.title)}", ""]
    lines += [f"- **{label}**: {_text(value)}" for label, value in report.facts]
    parts = ["\n".join(lines)]
    parts += [section_markdown(section) for section in (*report.sections, *sections)]
    return "\n\n".join(part.rstrip("\n") for part in parts) + "\n"


def section_markdown(section: ReportSection, *, level: int = 2) -> str:
    """Return one section as Markdown: a heading at ``level``, its paragraphs, bullets and table.

    >>> print(section_markdown(ReportSection("Next steps", bullets=("Resume: `itpm resume r1`",))))
    ## Next steps
    <BLANKLINE>
    - Resume: `itpm resume r1`
    <BLANKLINE>
    """
    blocks = [f"{'#' * level} {_text(section.title)}"]
    blocks += [_BLOCK_START.sub(r"\1\\\2", _text(paragraph)) for paragraph in section.paragraphs]
    if section.bullets:
        blocks.append("\n".join(f"- {_inline(bullet)}" for bullet in section.bullets))
    if section.table:
        blocks.append(_table(section.table))
    return "\n\n".join(blocks) + "\n"


def _table(rows: Sequence[dict[str, str]]) -> str:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    lines = [
        "| " + " | ".join(_cell(column) for column in columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    lines += ["| " + " | ".join(_cell(row.get(column, "")) for column in columns) + " |" for row in rows]
    return "\n".join(lines)


def _cell(text: str) -> str:
    # GitHub-flavoured tables split on | even inside code spans, so the pipe is escaped everywhere.
    return _inline(text).replace("|", r"\|") or " "


def _inline(text: str) -> str:
    """Return text for one line (a bullet, a cell): newlines become spaces."""
    return " ".join(_text(text).split())


def _text(text: str) -> str:
    r"""Return ``text`` escaped for Markdown outside its `code spans`: ``a <b>`` -> ``a \<b>``."""
    parts = _CODE_SPAN.split(text)
    # Odd parts are code spans: a renderer shows them verbatim, so escaping them would show the backslashes.
    return "".join(part if i % 2 else part.replace("\\", "\\\\").replace("<", "\\<") for i, part in enumerate(parts))
