"""The status report's charts as inline SVG: the timeline (plan and run) and the burn-up of host-steps.

Pure functions from a ``ProjectView`` to one ``<svg>`` element as text. Each has an ``id``, a ``<title>``, and
``role="img"`` with an ``aria-label``, so that a page, a test or a screen reader can find it; every bar and point
has a ``<title>`` (a tooltip in a browser) and a ``class`` naming what it shows (``bar batch passed``,
``point``). Labels are escaped. No plotting library: a few rectangles, lines and words do not need one, and the
page stays one self-contained file (no ``xmlns``: inline SVG in HTML takes its namespace from the parser).

>>> timeline_chart(view)[:52]  # doctest: +SKIP
'<svg id="timeline-chart" role="img" viewBox="0 0 920 '
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from html import escape

from itpm.reports.project_view import MilestoneState, MilestoneView, ProjectView, Span
from itpm.reports.status_report import run_state
from itpm.reports.wording import plural, when

__all__ = ["BURNUP_ID", "OUTCOME_COLOURS", "STATE_COLOURS", "TIMELINE_ID", "burnup_chart", "timeline_chart"]

TIMELINE_ID = "timeline-chart"
BURNUP_ID = "burnup-chart"

# Colour-blind-safe hues (Okabe-Ito); every coloured mark also has words in its tooltip and in the legend.
_GREEN, _TEAL, _BLUE, _SKY, _AMBER, _ORANGE, _RED, _GREY = (
    "#1b7f4b",
    "#009e73",
    "#0072b2",
    "#56b4e9",
    "#e69f00",
    "#d55e00",
    "#c0392b",
    "#8e959c",
)
OUTCOME_COLOURS = {
    "done": "#6b7f99",  # a phase the run has left
    "current": "#2c4f7c",  # the phase the run is in
    "passed": _GREEN,
    "tolerated": _AMBER,
    "halted": _RED,
    "running": _SKY,
    "waiting": _GREY,
    "approved": _TEAL,
    "rejected": _RED,
}
STATE_COLOURS = {
    MilestoneState.REACHED: _GREEN,
    MilestoneState.REACHED_LATE: _ORANGE,
    MilestoneState.ON_TRACK: _BLUE,
    MilestoneState.AT_RISK: _AMBER,
    MilestoneState.OVERDUE: _RED,
    MilestoneState.NOT_MEASURED: _GREY,
}
_NOW = "#c0392b"
_PLANNED = "#b8c4d6"
_INK, _MUTED, _RULE = "#1f2933", "#5f6b76", "#d5dae0"

_WIDTH = 920
_LABELS = 170  # the left column of lane names
_RIGHT = 30
_ROW = 24
_CHAR = 6.6  # average width of a 11px sans-serif character, to decide whether a label fits in a bar
_LANES = (("phase", "phases"), ("batch", "batches"), ("approval", "approvals"))


# -- the timeline --------------------------------------------------------------------------------------------------


def timeline_chart(view: ProjectView) -> str:
    """Return the timeline as an ``<svg id="timeline-chart">``: the plan at day scale, then the run at its own scale.

    The plan panel draws the planned phases as bars, each milestone as a diamond at the end of its due day
    (coloured by its state, with a dot where it was reached or is projected), the run as a thin bar, the
    projected finish and a "now" line. The run panel zooms on the run: its phases, batches and approval waits
    in three lanes, coloured by outcome.
    """
    plan, plan_height, plan_keys = _plan_panel(view, top=34)
    run, run_height, run_keys = _run_panel(view, top=34 + plan_height + 30)
    legend_top = 34 + plan_height + 30 + run_height + 12
    legend, legend_height = _legend([*plan_keys, *run_keys], top=legend_top)
    label = (
        f"Timeline of {view.project.title}: {plural(len(view.project.phases), 'planned phase')}, "
        f"{plural(len(view.milestones), 'milestone')}, "
        f"{plural(sum(1 for s in view.spans if s.lane == 'batch'), 'batch')} so far; state: {run_state(view.status)}"
    )
    return _svg(TIMELINE_ID, "Timeline: plan and run", label, legend_top + legend_height + 8, [*plan, *run, *legend])


def _plan_panel(view: ProjectView, *, top: int) -> tuple[list[str], int, list[tuple[str, str]]]:
    """Return the plan panel's elements, its height, and the legend entries it used."""
    out = [_heading("Plan (days)", top - 14)]
    if not view.project.phases and not view.milestones:
        out.append(_note("the project file plans no phases or milestones", _LABELS, top + 18))
        return out, 30, []
    scale = _Scale(*_plan_range(view), _LABELS, _WIDTH - _RIGHT)
    rows = len(view.project.phases) + len(view.milestones) + 1
    bottom = top + rows * _ROW
    out += _grid(scale, top, bottom, days=True)
    keys: list[tuple[str, str]] = [("planned phase", _PLANNED)]
    y = top
    for phase in view.project.phases:
        start, end = _midnight(phase.start), _midnight(phase.end + timedelta(days=1))
        tip = f"{_words(phase.name.value)}: planned {phase.start} to {phase.end}"
        out.append(_lane_label(_words(phase.name.value), y))
        out.append(
            _bar(scale.x(start), scale.x(end), y=y + 5, height=_ROW - 10, colour=_PLANNED, css="bar plan", tip=tip)
        )
        y += _ROW
    for milestone in view.milestones:
        out += _milestone_row(scale, milestone, y)
        keys.append((f"milestone {milestone.state.value}", STATE_COLOURS[milestone.state]))
        y += _ROW
    out.append(_lane_label("this run", y, bold=True))
    if view.started_at is not None:
        end = view.ended_at or view.as_of
        colour = OUTCOME_COLOURS["current" if view.ended_at is None else "done"]
        tip = f"the run: {when(view.started_at)} to {when(end)}, {run_state(view.status)}"
        left, right = scale.x(view.started_at), scale.x(end)
        out.append(_bar(left, right, y=y + 8, height=_ROW - 16, colour=colour, css="bar run", tip=tip, min_width=3))
        keys.append(("this run", colour))
    else:
        out.append(_note("not started", _LABELS + 6, y + _ROW / 2 + 4))
    if view.projected_finish is not None and view.ended_at is None:
        tip = f"projected finish {when(view.projected_finish)}"
        out.append(_flag(scale.x(view.projected_finish), y, "projected finish", tip))
        keys.append(("projected finish", _INK))
    out += _now_line(scale, view.as_of, top, bottom)
    return out, rows * _ROW + 22, keys


def _plan_range(view: ProjectView) -> tuple[datetime, datetime]:
    """Return whole days from the first planned date to the last, stretched to the run, now and the projection."""
    days = [p.start for p in view.project.phases] + [p.end + timedelta(days=1) for p in view.project.phases]
    days += [m.due for m in view.milestones] + [m.due + timedelta(days=1) for m in view.milestones]
    moments = [_midnight(d) for d in days]
    moments += [seen for m in view.milestones if (seen := m.reached_at or m.projected) is not None]
    for moment in (view.as_of, view.started_at, view.projected_finish):
        if moment is not None:
            moments += [_midnight(_utc(moment).date()), _midnight(_utc(moment).date() + timedelta(days=1))]
    return min(moments), max(moments)


def _milestone_row(scale: _Scale, milestone: MilestoneView, y: float) -> list[str]:
    """Return a milestone's label, its diamond at the end of its due day, and a dot where it was reached or is due."""
    colour = STATE_COLOURS[milestone.state]
    due, middle = scale.x(_end_of_day(milestone.due)), y + _ROW / 2
    tip = f"{milestone.name}: due {milestone.due}, {milestone.state.value}"
    out = [_lane_label(milestone.name, y)]
    seen = milestone.reached_at or milestone.projected
    if seen is not None:
        tip += f" ({'reached' if milestone.reached_at else 'projected'} {when(seen)})"
        x = scale.x(seen)
        out.append(_line(min(due, x), middle, max(due, x), middle, colour, dash="2 2"))
        out.append(
            f'<circle class="point milestone-date" cx="{x:.1f}" cy="{middle:.1f}" r="3.5" fill="{colour}">'
            f"<title>{escape(tip)}</title></circle>"
        )
    out.append(_diamond(due, middle, colour, f"milestone {_slug(milestone.state.value)}", tip))
    return out


def _run_panel(view: ProjectView, *, top: int) -> tuple[list[str], int, list[tuple[str, str]]]:
    """Return the run panel's elements, its height, and the legend entries it used."""
    spans = view.spans
    out = [_heading("This run (zoomed to its own duration)", top - 14)]
    if view.started_at is None and not spans:
        out.append(_note("no batches yet: the run has not started", _LABELS, top + 18))
        return out, 30, []
    start = min([s.start for s in spans] + ([view.started_at] if view.started_at else []))
    end = max([s.end for s in spans] + [view.ended_at or view.as_of])
    finish = view.projected_finish if view.ended_at is None else None
    # Show the projected finish when it is near enough not to squash what happened into a corner.
    if finish is not None and finish > end and (finish - start) <= 2 * (end - start):
        end = finish
    scale = _Scale(start, end, _LABELS, _WIDTH - _RIGHT)
    bottom = top + len(_LANES) * _ROW
    out += _grid(scale, top, bottom, days=False)
    keys: list[tuple[str, str]] = []
    for row, (lane, name) in enumerate(_LANES):
        y = top + row * _ROW
        out.append(_lane_label(name, y))
        lane_spans = [s for s in spans if s.lane == lane]
        for span in lane_spans:
            out.append(_span_bar(scale, span, y))
            keys.append((_outcome_key(span), OUTCOME_COLOURS.get(span.outcome, _GREY)))
        if lane == "batch" and not lane_spans:
            out.append(_note("no batches yet", _LABELS + 6, y + _ROW / 2 + 4))
    if finish is not None:
        words = f"projected finish {when(finish)}"
        if finish <= end:
            out.append(_flag(scale.x(finish), top + _ROW, "projected finish", words))
        else:  # too far to draw at this scale: say when, at the edge
            out.append(_note(words + " \u2192", _WIDTH - _RIGHT, top - 4, anchor="end"))
    out += _now_line(scale, view.as_of, top, bottom)
    return out, len(_LANES) * _ROW + 22, keys


def _span_bar(scale: _Scale, span: Span, y: float) -> str:
    colour = OUTCOME_COLOURS.get(span.outcome, _GREY)
    tip = f"{span.label}: {span.outcome}, {when(span.start)} to {when(span.end)}"
    left, right = scale.x(span.start), scale.x(span.end)
    label = _words(span.label) if span.lane == "phase" else span.label
    css = f"bar {span.lane} {_slug(span.outcome)}"
    bar = _bar(left, right, y=y + 4, height=_ROW - 8, colour=colour, css=css, tip=tip, min_width=2)
    if (right - left) > len(label) * _CHAR + 8:
        bar += _text(label, (left + right) / 2, y + _ROW / 2 + 4, anchor="middle", fill="#ffffff", size=11)
    return bar


def _outcome_key(span: Span) -> str:
    if span.lane == "phase":
        return "phase " + ("in progress" if span.outcome == "current" else "done")
    if span.lane == "approval":
        return f"approval {span.outcome}"
    return f"batch {span.outcome}"


# -- the burn-up ---------------------------------------------------------------------------------------------------


def burnup_chart(view: ProjectView) -> str:
    """Return the burn-up as an ``<svg id="burnup-chart">``: host-steps verified over time against the scope.

    A step line through the log's burn-up points (a dot at each), a dashed line at the number of host-steps in
    scope, and, while the run goes on, a dotted line from now to the projected finish at the measured pace.
    """
    total, points = view.status.total, _last_per_moment(view)
    height, top, bottom, left, right = 300, 30, 250, 70, _WIDTH - _RIGHT
    title = "Burn-up: host-steps verified over time"
    verified = points[-1][1] if points else 0
    label = f"Burn-up of {view.project.title}: {verified} of {total} host-steps verified"
    if not points:
        body = [_note("no batches yet: the run has not started, so nothing is verified", left, top + 40)]
        return _svg(BURNUP_ID, title, label, 90, body)
    start = points[0][0]
    end = max(points[-1][0], view.ended_at or view.as_of)
    finish = view.projected_finish if view.ended_at is None and view.projected_finish is not None else None
    if finish is not None:
        end = max(end, finish)
    x = _Scale(start, end, left, right)
    ceiling = max(total, verified, 1)
    step = _nice_count_step(ceiling)
    ticks = list(range(0, ceiling + 1, step))

    def y(count: float) -> float:
        return bottom - (bottom - top) * count / ceiling

    out = [_axis_grid_y(ticks, y, left, right)]
    out += _grid(x, top, bottom, days=False)
    out.append(_text("host-steps verified", 14, (top + bottom) / 2, anchor="middle", rotate=True, fill=_MUTED))
    out.append(_line(left, bottom, right, bottom, _INK))
    out.append(_line(left, top, left, bottom, _INK))
    out.append(
        f'<line class="scope" x1="{left}" y1="{y(total):.1f}" x2="{right}" y2="{y(total):.1f}" stroke="{_INK}" '
        f'stroke-width="1.5" stroke-dasharray="6 4"><title>{total} host-steps in scope</title></line>'
    )
    out.append(_text(f"{total} host-steps in scope", left + 6, y(total) - 6, fill=_INK))
    path = f"M{x.x(start):.1f},{y(points[0][1]):.1f}"
    for moment, count in points[1:]:
        path += f" H{x.x(moment):.1f} V{y(count):.1f}"
    last_end = view.ended_at or view.as_of
    path += f" H{x.x(max(last_end, points[-1][0])):.1f}"
    out.append(f'<path class="burnup" d="{path}" fill="none" stroke="{_BLUE}" stroke-width="2.5"/>')
    for moment, count in points:
        tip = f"{when(moment)}: {count} of {total} host-steps verified"
        out.append(
            f'<circle class="point" cx="{x.x(moment):.1f}" cy="{y(count):.1f}" r="3.5" fill="{_BLUE}">'
            f"<title>{escape(tip)}</title></circle>"
        )
    if finish is not None:
        tip = f"at the measured pace: all {total} verified by {when(finish)}"
        out.append(
            f'<line class="projection" x1="{x.x(view.as_of):.1f}" y1="{y(verified):.1f}" x2="{x.x(finish):.1f}" '
            f'y2="{y(total):.1f}" stroke="{_BLUE}" stroke-width="1.5" stroke-dasharray="2 4">'
            f"<title>{escape(tip)}</title></line>"
        )
        out.append(_flag(x.x(finish), y(total) - 2, "projected finish", tip, height=0))
    if verified == 0:
        started = any(s.lane == "batch" for s in view.spans)
        out.append(_note("no host-step verified yet" if started else "no batches yet", left + 10, top + 20))
    now = _now_line(x, view.as_of, top, bottom)
    keys = [("verified (step line)", _BLUE), ("in scope (dashed)", _INK)]
    keys += [("at the measured pace (dotted)", _BLUE)] if finish is not None else []
    keys += [("now", _NOW)] if now else []
    legend, legend_height = _legend(keys, top=height - 20)
    out += now
    return _svg(BURNUP_ID, title, label, height + legend_height - 10, [*out, *legend])


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
        marks.append(_line(left, y(tick), right, y(tick), _RULE))
        marks.append(_text(str(tick), left - 8, y(tick) + 4, anchor="end", fill=_MUTED))
    return "".join(marks)


# -- time scale and axis -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scale:
    """Maps moments between ``start`` and ``end`` to x coordinates between ``left`` and ``right``."""

    start: datetime
    end: datetime
    left: float
    right: float

    def x(self, moment: datetime) -> float:
        length = max((self.end - self.start).total_seconds(), 1.0)
        share = (_utc(moment) - _utc(self.start)).total_seconds() / length
        return self.left + (self.right - self.left) * min(max(share, 0.0), 1.0)


_STEPS_S = (1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200)
_STEPS_DAYS = (1, 2, 7, 14, 28, 91, 182, 364)


def _ticks(start: datetime, end: datetime, *, days: bool, most: int = 8) -> tuple[list[datetime], timedelta]:
    """Return round moments between ``start`` and ``end`` (at most ``most``), and the step between them.

    With ``days``, the moments are midnights: a plan is in days, and hours on its axis would suggest a precision
    the plan does not have.
    """
    length = (end - start).total_seconds()
    midnight = _midnight(_utc(start).date())
    for seconds in () if days else _STEPS_S:
        if length / seconds <= most:
            step = timedelta(seconds=seconds)
            first = midnight + step * math.ceil((_utc(start) - midnight) / step)
            break
    else:
        step = timedelta(days=next((d for d in _STEPS_DAYS if length / 86400 / d <= most), _STEPS_DAYS[-1]))
        first = midnight if _utc(start) == midnight else midnight + timedelta(days=1)
    ticks = []
    moment = first
    while moment <= _utc(end):
        ticks.append(moment)
        moment += step
    return ticks, step


def _grid(scale: _Scale, top: float, bottom: float, *, days: bool) -> list[str]:
    """Return vertical rules and labels at round moments, and the axis caption naming the dates and zone."""
    ticks, step = _ticks(scale.start, scale.end, days=days)
    out = []
    previous: date | None = None
    for moment in ticks:
        x = scale.x(moment)
        out.append(_line(x, top, x, bottom, _RULE))
        if days or step >= timedelta(days=1):
            label = moment.strftime("%d %b")
        else:
            label = moment.strftime("%H:%M:%S" if step < timedelta(minutes=1) else "%H:%M")
            if moment.date() != previous and previous is not None:
                label = moment.strftime("%d %b ") + label
        previous = moment.date()
        out.append(_text(label, x, bottom + 14, anchor="middle", fill=_MUTED))
    first, last = _utc(scale.start), _utc(scale.end)
    if days:
        years = f"{first.year}" if first.year == last.year else f"{first.year} to {last.year}"
        caption = f"dates, {years} (days end at midnight UTC)"
    else:
        span = first.strftime("%Y-%m-%d") + ("" if first.date() == last.date() else last.strftime(" to %Y-%m-%d"))
        caption = f"time of day (UTC), {span}"
    out.append(_text(caption, scale.right, bottom + 28, anchor="end", fill=_MUTED, size=10))
    return out


def _now_line(scale: _Scale, now: datetime, top: float, bottom: float) -> list[str]:
    if not scale.start <= now <= scale.end:
        return []
    x = scale.x(now)
    return [
        f'<line class="now" x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bottom}" stroke="{_NOW}" '
        f'stroke-width="1.5" stroke-dasharray="4 3"><title>now: {escape(when(now))}</title></line>',
        _text("now", x, top - 6, anchor="middle", fill=_NOW, size=10),
    ]


# -- marks ---------------------------------------------------------------------------------------------------------


def _svg(chart_id: str, title: str, label: str, height: float, body: Sequence[str]) -> str:
    return (
        f'<svg id="{chart_id}" role="img" viewBox="0 0 {_WIDTH} {height:.0f}" width="{_WIDTH}" '
        f'height="{height:.0f}" aria-label="{escape(label)}" '
        f'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="11">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def _heading(text: str, y: float) -> str:
    return _text(text, 0, y, fill=_INK, size=13, weight="600")


def _lane_label(text: str, y: float, *, bold: bool = False) -> str:
    shown = text if len(text) <= 26 else text[:25] + "\u2026"  # noqa: PLR2004 - what fits the label column
    return _text(shown, _LABELS - 10, y + _ROW / 2 + 4, anchor="end", fill=_INK, weight="600" if bold else "400")


def _note(text: str, x: float, y: float, *, anchor: str = "start") -> str:
    return _text(text, x, y, anchor=anchor, fill=_MUTED, size=12, css="note")


def _text(
    text: str,
    x: float,
    y: float,
    *,
    anchor: str = "start",
    fill: str = _INK,
    size: int = 11,
    weight: str = "400",
    rotate: bool = False,
    css: str = "",
) -> str:
    turn = f' transform="rotate(-90 {x:.1f} {y:.1f})"' if rotate else ""
    cls = f' class="{css}"' if css else ""
    return (
        f'<text{cls} x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}" font-size="{size}" '
        f'font-weight="{weight}"{turn}>{escape(text)}</text>'
    )


def _line(x1: float, y1: float, x2: float, y2: float, colour: str, *, dash: str = "") -> str:
    dashes = f' stroke-dasharray="{dash}"' if dash else ""
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}"{dashes}/>'


def _bar(
    left: float, right: float, *, y: float, height: float, colour: str, css: str, tip: str, min_width: float = 1
) -> str:
    width = max(right - left, min_width)
    return (
        f'<rect class="{css}" x="{left:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" rx="2" '
        f'fill="{colour}" stroke="#ffffff" stroke-width="1"><title>{escape(tip)}</title></rect>'
    )


def _diamond(x: float, y: float, colour: str, css: str, tip: str) -> str:
    r = 7
    points = f"{x:.1f},{y - r:.1f} {x + r:.1f},{y:.1f} {x:.1f},{y + r:.1f} {x - r:.1f},{y:.1f}"
    return (
        f'<polygon class="{css}" points="{points}" fill="{colour}" stroke="#ffffff" stroke-width="1">'
        f"<title>{escape(tip)}</title></polygon>"
    )


def _flag(x: float, y: float, label: str, tip: str, *, height: float = _ROW) -> str:
    """Return a downward triangle at ``x`` over a row at ``y``, with a label beside it."""
    top = y + 2
    points = f"{x - 6:.1f},{top:.1f} {x + 6:.1f},{top:.1f} {x:.1f},{top + 9:.1f}"
    anchor = "end" if x > _WIDTH - 160 else "start"  # keep the label inside the chart
    dx = -9 if anchor == "end" else 9
    stem = _line(x, top + 9, x, y + height - 2, _INK) if height else ""
    return (
        f'<polygon class="finish" points="{points}" fill="{_INK}"><title>{escape(tip)}</title></polygon>'
        + stem
        + _text(label, x + dx, top + 9, anchor=anchor, fill=_INK, size=10)
    )


def _legend(entries: Sequence[tuple[str, str]], *, top: float) -> tuple[list[str], int]:
    """Return a legend of coloured swatches, one per distinct entry, wrapped to the chart's width; and its height."""
    unique = list(dict.fromkeys(entries))
    if not unique:
        return [], 0
    out, x, y = [], 0.0, top
    for name, colour in unique:
        width = 22 + len(name) * _CHAR + 16
        if x + width > _WIDTH and x > 0:
            x, y = 0.0, y + 18
        out.append(f'<rect class="swatch" x="{x:.1f}" y="{y:.1f}" width="14" height="10" rx="2" fill="{colour}"/>')
        out.append(_text(name, x + 20, y + 9, fill=_INK))
        x += width
    return out, int(y - top) + 20


# -- words and dates -----------------------------------------------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _end_of_day(day: date) -> datetime:
    # A milestone due on a day is met if reached before that day ends (as project_view judges it).
    return _midnight(day + timedelta(days=1))


def _words(name: str) -> str:
    return name.replace("_", " ")


def _slug(text: str) -> str:
    return "-".join(text.split())
