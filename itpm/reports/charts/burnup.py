"""The burn-up chart: host-steps verified over time against the number in scope, and the pace projected onwards.

>>> burnup_chart(view)[:49]  # doctest: +SKIP
'<svg id="burnup-chart" role="img" viewBox="0 0 920 '
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from html import escape

from itpm.reports.charts import svg
from itpm.reports.charts.colours import BLUE, INK, MUTED, NOW, RULE
from itpm.reports.charts.time_axis import Scale, grid, now_line
from itpm.reports.project_view import ProjectView
from itpm.reports.wording import when

__all__ = ["BURNUP_ID", "burnup_chart"]

BURNUP_ID = "burnup-chart"


def burnup_chart(view: ProjectView) -> str:
    """Return the burn-up as an ``<svg id="burnup-chart">``: host-steps verified over time against the scope.

    A step line through the log's burn-up points (a dot at each), a dashed line at the number of host-steps in
    scope, and, while the run goes on, a dotted line from now to the projected finish at the measured pace.
    """
    total, points = view.status.total, _last_per_moment(view)
    height, top, bottom, left, right = 300, 30, 250, 70, svg.WIDTH - svg.RIGHT
    title = "Burn-up: host-steps verified over time"
    verified = points[-1][1] if points else 0
    label = f"Burn-up of {view.project.title}: {verified} of {total} host-steps verified"
    if not points:
        body = [svg.note("no batches yet: the run has not started, so nothing is verified", left, top + 40)]
        return svg.chart(BURNUP_ID, title, label, 90, body)
    start = points[0][0]
    end = max(points[-1][0], view.ended_at or view.as_of)
    finish = view.projected_finish if view.ended_at is None and view.projected_finish is not None else None
    if finish is not None:
        end = max(end, finish)
    x = Scale(start, end, left, right)
    ceiling = max(total, verified, 1)
    step = _nice_count_step(ceiling)
    ticks = list(range(0, ceiling + 1, step))

    def y(count: float) -> float:
        return bottom - (bottom - top) * count / ceiling

    out = [_axis_grid_y(ticks, y, left, right)]
    out += grid(x, top, bottom, days=False)
    out.append(svg.text("host-steps verified", 14, (top + bottom) / 2, anchor="middle", rotate=True, fill=MUTED))
    out.append(svg.line(left, bottom, right, bottom, INK))
    out.append(svg.line(left, top, left, bottom, INK))
    out.append(
        f'<line class="scope" x1="{left}" y1="{y(total):.1f}" x2="{right}" y2="{y(total):.1f}" stroke="{INK}" '
        f'stroke-width="1.5" stroke-dasharray="6 4"><title>{total} host-steps in scope</title></line>'
    )
    out.append(svg.text(f"{total} host-steps in scope", left + 6, y(total) - 6, fill=INK))
    path = f"M{x.x(start):.1f},{y(points[0][1]):.1f}"
    for moment, count in points[1:]:
        path += f" H{x.x(moment):.1f} V{y(count):.1f}"
    last_end = view.ended_at or view.as_of
    path += f" H{x.x(max(last_end, points[-1][0])):.1f}"
    out.append(f'<path class="burnup" d="{path}" fill="none" stroke="{BLUE}" stroke-width="2.5"/>')
    for moment, count in points:
        tip = f"{when(moment)}: {count} of {total} host-steps verified"
        out.append(
            f'<circle class="point" cx="{x.x(moment):.1f}" cy="{y(count):.1f}" r="3.5" fill="{BLUE}">'
            f"<title>{escape(tip)}</title></circle>"
        )
    if finish is not None:
        tip = f"at the measured pace: all {total} verified by {when(finish)}"
        out.append(
            f'<line class="projection" x1="{x.x(view.as_of):.1f}" y1="{y(verified):.1f}" x2="{x.x(finish):.1f}" '
            f'y2="{y(total):.1f}" stroke="{BLUE}" stroke-width="1.5" stroke-dasharray="2 4">'
            f"<title>{escape(tip)}</title></line>"
        )
        out.append(svg.flag(x.x(finish), y(total) - 2, "projected finish", tip, height=0))
    if verified == 0:
        started = any(s.lane == "batch" for s in view.spans)
        out.append(svg.note("no host-step verified yet" if started else "no batches yet", left + 10, top + 20))
    now = now_line(x, view.as_of, top, bottom)
    keys = [("verified (step line)", BLUE), ("in scope (dashed)", INK)]
    keys += [("at the measured pace (dotted)", BLUE)] if finish is not None else []
    keys += [("now", NOW)] if now else []
    legend, legend_height = svg.legend(keys, top=height - 20)
    out += now
    return svg.chart(BURNUP_ID, title, label, height + legend_height - 10, [*out, *legend])


def _last_per_moment(view: ProjectView) -> list[tuple[datetime, int]]:
    """Return the burn-up points, one per moment (a batch verifies its hosts in the same second)."""
    points: dict[datetime, int] = {}
    for point in view.burnup:
        points[point.at] = point.verified
    return sorted(points.items())


def _nice_count_step(ceiling: int) -> int:
    """Return a step of 1, 2 or 5 times a power of ten giving at most six ticks up to ``ceiling``."""
    for power in range(10):
        for base in (1, 2, 5):
            step = base * int(10**power)
            if ceiling / step <= 6:  # noqa: PLR2004 - six labels fit the chart's height
                return step
    return ceiling


def _axis_grid_y(ticks: Sequence[int], y: Callable[[float], float], left: float, right: float) -> str:
    marks = []
    for tick in ticks:
        marks.append(svg.line(left, y(tick), right, y(tick), RULE))
        marks.append(svg.text(str(tick), left - 8, y(tick) + 4, anchor="end", fill=MUTED))
    return "".join(marks)
