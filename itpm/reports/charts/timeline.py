"""The timeline chart: the plan at day scale (phases, milestones, the run, the projected finish), then the run.

The plan panel draws the planned phases as bars, each milestone as a diamond at the end of its due day; the run
panel zooms on the run itself: its phases, batches and approval waits in three lanes, coloured by outcome.

>>> timeline_chart(view)[:52]  # doctest: +SKIP
'<svg id="timeline-chart" role="img" viewBox="0 0 920 '
"""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape

from itpm.reports.charts import svg
from itpm.reports.charts.colours import GREY, INK, OUTCOME_COLOURS, PLANNED, STATE_COLOURS
from itpm.reports.charts.time_axis import Scale, end_of_day, grid, midnight, now_line, utc
from itpm.reports.project_view import MilestoneView, ProjectView, Span
from itpm.reports.status_report import run_state
from itpm.reports.wording import plural, when

__all__ = ["TIMELINE_ID", "timeline_chart"]

TIMELINE_ID = "timeline-chart"
_LANES = (("phase", "phases"), ("batch", "batches"), ("approval", "approvals"))


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
    legend, legend_height = svg.legend([*plan_keys, *run_keys], top=legend_top)
    label = (
        f"Timeline of {view.project.title}: {plural(len(view.project.phases), 'planned phase')}, "
        f"{plural(len(view.milestones), 'milestone')}, "
        f"{plural(sum(1 for s in view.spans if s.lane == 'batch'), 'batch')} so far; state: {run_state(view.status)}"
    )
    return svg.chart(
        TIMELINE_ID, "Timeline: plan and run", label, legend_top + legend_height + 8, [*plan, *run, *legend]
    )


def _plan_panel(view: ProjectView, *, top: int) -> tuple[list[str], int, list[tuple[str, str]]]:
    """Return the plan panel's elements, its height, and the legend entries it used."""
    out = [svg.heading("Plan (days)", top - 14)]
    if not view.project.phases and not view.milestones:
        out.append(svg.note("the project file plans no phases or milestones", svg.LABELS, top + 18))
        return out, 30, []
    scale = Scale(*_plan_range(view), svg.LABELS, svg.WIDTH - svg.RIGHT)
    rows = len(view.project.phases) + len(view.milestones) + 1
    bottom = top + rows * svg.ROW
    out += grid(scale, top, bottom, days=True)
    keys: list[tuple[str, str]] = [("planned phase", PLANNED)]
    y = top
    for phase in view.project.phases:
        start, end = midnight(phase.start), midnight(phase.end + timedelta(days=1))
        tip = f"{_words(phase.name.value)}: planned {phase.start} to {phase.end}"
        out.append(svg.lane_label(_words(phase.name.value), y))
        out.append(
            svg.bar(scale.x(start), scale.x(end), y=y + 5, height=svg.ROW - 10, colour=PLANNED, css="bar plan", tip=tip)
        )
        y += svg.ROW
    for milestone in view.milestones:
        out += _milestone_row(scale, milestone, y)
        keys.append((f"milestone {milestone.state.value}", STATE_COLOURS[milestone.state]))
        y += svg.ROW
    out.append(svg.lane_label("this run", y, bold=True))
    if view.started_at is not None:
        end = view.ended_at or view.as_of
        colour = OUTCOME_COLOURS["current" if view.ended_at is None else "done"]
        tip = f"the run: {when(view.started_at)} to {when(end)}, {run_state(view.status)}"
        left, right = scale.x(view.started_at), scale.x(end)
        out.append(
            svg.bar(left, right, y=y + 8, height=svg.ROW - 16, colour=colour, css="bar run", tip=tip, min_width=3)
        )
        keys.append(("this run", colour))
    else:
        out.append(svg.note("not started", svg.LABELS + 6, y + svg.ROW / 2 + 4))
    if view.projected_finish is not None and view.ended_at is None:
        tip = f"projected finish {when(view.projected_finish)}"
        out.append(svg.flag(scale.x(view.projected_finish), y, "projected finish", tip))
        keys.append(("projected finish", INK))
    out += now_line(scale, view.as_of, top, bottom)
    return out, rows * svg.ROW + 22, keys


def _plan_range(view: ProjectView) -> tuple[datetime, datetime]:
    """Return whole days from the first planned date to the last, stretched to the run, now and the projection."""
    days = [p.start for p in view.project.phases] + [p.end + timedelta(days=1) for p in view.project.phases]
    days += [m.due for m in view.milestones] + [m.due + timedelta(days=1) for m in view.milestones]
    moments = [midnight(d) for d in days]
    moments += [seen for m in view.milestones if (seen := m.reached_at or m.projected) is not None]
    for moment in (view.as_of, view.started_at, view.projected_finish):
        if moment is not None:
            moments += [midnight(utc(moment).date()), midnight(utc(moment).date() + timedelta(days=1))]
    return min(moments), max(moments)


def _milestone_row(scale: Scale, milestone: MilestoneView, y: float) -> list[str]:
    """Return a milestone's label, its diamond at the end of its due day, and a dot where it was reached or is due."""
    colour = STATE_COLOURS[milestone.state]
    due, middle = scale.x(end_of_day(milestone.due)), y + svg.ROW / 2
    tip = f"{milestone.name}: due {milestone.due}, {milestone.state.value}"
    out = [svg.lane_label(milestone.name, y)]
    seen = milestone.reached_at or milestone.projected
    if seen is not None:
        tip += f" ({'reached' if milestone.reached_at else 'projected'} {when(seen)})"
        x = scale.x(seen)
        out.append(svg.line(min(due, x), middle, max(due, x), middle, colour, dash="2 2"))
        out.append(
            f'<circle class="point milestone-date" cx="{x:.1f}" cy="{middle:.1f}" r="3.5" fill="{colour}">'
            f"<title>{escape(tip)}</title></circle>"
        )
    out.append(svg.diamond(due, middle, colour, f"milestone {_slug(milestone.state.value)}", tip))
    return out


def _run_panel(view: ProjectView, *, top: int) -> tuple[list[str], int, list[tuple[str, str]]]:
    """Return the run panel's elements, its height, and the legend entries it used."""
    spans = view.spans
    out = [svg.heading("This run (zoomed to its own duration)", top - 14)]
    if view.started_at is None and not spans:
        out.append(svg.note("no batches yet: the run has not started", svg.LABELS, top + 18))
        return out, 30, []
    start = min([s.start for s in spans] + ([view.started_at] if view.started_at else []))
    end = max([s.end for s in spans] + [view.ended_at or view.as_of])
    finish = view.projected_finish if view.ended_at is None else None
    # Show the projected finish when it is near enough not to squash what happened into a corner.
    if finish is not None and finish > end and (finish - start) <= 2 * (end - start):
        end = finish
    scale = Scale(start, end, svg.LABELS, svg.WIDTH - svg.RIGHT)
    bottom = top + len(_LANES) * svg.ROW
    out += grid(scale, top, bottom, days=False)
    keys: list[tuple[str, str]] = []
    for row, (lane, name) in enumerate(_LANES):
        y = top + row * svg.ROW
        out.append(svg.lane_label(name, y))
        lane_spans = [s for s in spans if s.lane == lane]
        for span in lane_spans:
            out.append(_span_bar(scale, span, y))
            keys.append((_outcome_key(span), OUTCOME_COLOURS.get(span.outcome, GREY)))
        if lane == "batch" and not lane_spans:
            out.append(svg.note("no batches yet", svg.LABELS + 6, y + svg.ROW / 2 + 4))
    if finish is not None:
        words = f"projected finish {when(finish)}"
        if finish <= end:
            out.append(svg.flag(scale.x(finish), top + svg.ROW, "projected finish", words))
        else:  # too far to draw at this scale: say when, at the edge
            out.append(svg.note(words + " \u2192", svg.WIDTH - svg.RIGHT, top - 4, anchor="end"))
    out += now_line(scale, view.as_of, top, bottom)
    return out, len(_LANES) * svg.ROW + 22, keys


def _span_bar(scale: Scale, span: Span, y: float) -> str:
    colour = OUTCOME_COLOURS.get(span.outcome, GREY)
    tip = f"{span.label}: {span.outcome}, {when(span.start)} to {when(span.end)}"
    left, right = scale.x(span.start), scale.x(span.end)
    label = _words(span.label) if span.lane == "phase" else span.label
    css = f"bar {span.lane} {_slug(span.outcome)}"
    bar = svg.bar(left, right, y=y + 4, height=svg.ROW - 8, colour=colour, css=css, tip=tip, min_width=2)
    if (right - left) > len(label) * svg.CHAR + 8:
        bar += svg.text(label, (left + right) / 2, y + svg.ROW / 2 + 4, anchor="middle", fill="#ffffff", size=11)
    return bar


def _outcome_key(span: Span) -> str:
    if span.lane == "phase":
        return "phase " + ("in progress" if span.outcome == "current" else "done")
    if span.lane == "approval":
        return f"approval {span.outcome}"
    return f"batch {span.outcome}"


def _words(name: str) -> str:
    return name.replace("_", " ")


def _slug(text: str) -> str:
    return "-".join(text.split())
