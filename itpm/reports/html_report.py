"""The project status report as one self-contained HTML page, with its timeline and burn-up charts inline.

One file a sponsor can open from an e-mail or a share, offline: inline CSS, inline SVG, no JavaScript, no
external fonts, images or links. A Content-Security-Policy forbids scripts and outside resources, so that even a
mistake in escaping could not run anything. Every text is escaped; `backtick spans` become ``<code>``.

>>> page = render_html(view)  # doctest: +SKIP
>>> page[:15], 'id="timeline-chart"' in page, 'id="burnup-chart"' in page  # doctest: +SKIP
('<!DOCTYPE html>', True, True)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape

from itpm.reports.charts.burnup import burnup_chart
from itpm.reports.charts.timeline import timeline_chart
from itpm.reports.project_view import ProjectView
from itpm.reports.section import ReportSection
from itpm.reports.status_report import status_report
from itpm.reports.wording import percent

__all__ = ["render_html", "section_html"]

_CODE_SPAN = re.compile(r"`([^`]*)`")
# Right-align figures so that columns of money and counts line up: "EUR 1,900.00", "7.5%", "12".
_FIGURE = re.compile(r"^([A-Z]{3} )?-?[\d,]+(\.\d+)?%?$")

# default-src 'none' blocks every fetch and script; inline styles (the sheet and the progress bar) stay allowed.
_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

_CSS = """
:root { color-scheme: light; --ink: #1f2933; --muted: #5f6b76; --rule: #d5dae0; --accent: #0072b2; }
* { box-sizing: border-box; }
body { margin: 0; background: #f4f6f8; color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
main { max-width: 980px; margin: 0 auto; padding: 24px 28px 48px; background: #ffffff; }
header { border-bottom: 3px solid var(--accent); margin-bottom: 8px; padding-bottom: 12px; }
.kicker { margin: 0; color: var(--muted); text-transform: uppercase; letter-spacing: .08em; font-size: 12px; }
h1 { margin: 4px 0 10px; font-size: 28px; line-height: 1.2; }
h2 { margin: 28px 0 8px; font-size: 19px; border-bottom: 1px solid var(--rule); padding-bottom: 4px; }
dl.facts { display: flex; flex-wrap: wrap; gap: 6px 28px; margin: 0; }
dl.facts div { display: flex; gap: 6px; }
dt { color: var(--muted); }
dd { margin: 0; font-weight: 600; }
p { margin: 6px 0; }
ul { margin: 6px 0; padding-left: 22px; }
code { font: 13px/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  background: #eef1f4; padding: 1px 4px; border-radius: 3px; }
table { border-collapse: collapse; width: 100%; margin: 10px 0; font-size: 14px; }
th, td { text-align: left; vertical-align: top; padding: 5px 10px; border-bottom: 1px solid var(--rule); }
th { background: #eef1f4; font-weight: 600; }
td.figure { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr:last-child td { border-bottom: 0; }
figure { margin: 12px 0; overflow-x: auto; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 13px; }
.progress { height: 14px; background: #e3e7eb; border-radius: 7px; overflow: hidden; margin: 8px 0 4px; }
.progress span { display: block; height: 100%; background: #1b7f4b; }
#needs-attention li { margin: 3px 0; }
@media print { body { background: #ffffff; } main { padding: 0; } figure { break-inside: avoid; } }
"""


def render_html(view: ProjectView, sections: Sequence[ReportSection] = ()) -> str:
    """Return the status report of ``view``'s run, then ``sections``, as one self-contained HTML page."""
    report = status_report(view)
    done = min(max(view.percent_complete, 0.0), 100.0)
    progress_bar = (
        f'<div class="progress" role="img" aria-label="{escape(percent(done))} of host-steps verified">'
        f'<span style="width: {done:.1f}%"></span></div>'
    )
    figures = {
        report.progress.title: progress_bar + _figure(burnup_chart(view), "Host-steps verified over time."),
        report.schedule.title: _figure(
            timeline_chart(view),
            "Above: the plan by day, with milestones at the end of their due day. Below: this run, zoomed to its "
            "own minutes. Hover over a bar for its times.",
        ),
    }
    facts = "".join(f"<div><dt>{_text(label)}</dt><dd>{_text(value)}</dd></div>" for label, value in report.facts)
    used: set[str] = set()
    body = [
        "<header>",
        '<p class="kicker">Project status report</p>',
        f"<h1>{_text(report.title)}</h1>",
        f'<dl class="facts">{facts}</dl>',
        "</header>",
    ]
    body += [
        section_html(section, figure=figures.get(section.title, ""), anchor=_anchor(section.title, used))
        for section in report.sections
    ]
    body += [section_html(section, anchor=_anchor(section.title, used)) for section in sections]
    run = f", run {view.status.run_id}" if view.status.run_id else ""
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(report.title)}: status report{escape(run)}</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            "<body>",
            "<main>",
            *body,
            "</main>",
            "</body>",
            "</html>",
            "",
        ]
    )


def section_html(section: ReportSection, *, figure: str = "", anchor: str = "") -> str:
    """Return one section as ``<section>``: its heading, paragraphs, bullets, ``figure`` (HTML as given), table.

    >>> print(section_html(ReportSection("Next", bullets=("run `itpm resume r1`",))))
    <section>
    <h2>Next</h2>
    <ul>
    <li>run <code>itpm resume r1</code></li>
    </ul>
    </section>
    """
    parts = [f'<section id="{escape(anchor)}">' if anchor else "<section>", f"<h2>{_text(section.title)}</h2>"]
    parts += [f"<p>{_text(paragraph)}</p>" for paragraph in section.paragraphs]
    if section.bullets:
        parts += ["<ul>", *(f"<li>{_text(bullet)}</li>" for bullet in section.bullets), "</ul>"]
    if figure:
        parts.append(figure)
    if section.table:
        parts.append(_table(section.table))
    parts.append("</section>")
    return "\n".join(parts)


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{_text(caption)}</figcaption></figure>"


def _table(rows: Sequence[dict[str, str]]) -> str:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    head = "".join(f'<th scope="col">{_text(column)}</th>' for column in columns)
    lines = ["<table>", f"<thead><tr>{head}</tr></thead>", "<tbody>"]
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column, "")
            figure = ' class="figure"' if _FIGURE.match(value) else ""
            cells.append(f"<td{figure}>{_text(value)}</td>")
        lines.append(f"<tr>{''.join(cells)}</tr>")
    lines += ["</tbody>", "</table>"]
    return "\n".join(lines)


def _text(text: str) -> str:
    """Return ``text`` escaped for HTML, its backtick spans as code: ``a <b>`` -> ``a &lt;b&gt;``."""
    return _CODE_SPAN.sub(r"<code>\1</code>", escape(text))


def _anchor(title: str, used: set[str]) -> str:
    """Return a unique id for a section from its title: ``'Needs attention'`` -> ``'needs-attention'``."""
    base = "-".join(re.findall(r"[a-z0-9]+", title.lower())) or "section"
    anchor, n = base, 2
    while anchor in used:
        anchor, n = f"{base}-{n}", n + 1
    used.add(anchor)
    return anchor
