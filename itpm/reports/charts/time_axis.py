"""The charts' time axis: a scale from moments to x coordinates, round ticks with a caption, and the "now" line.

A plan's axis is in days (midnights), a run's in round seconds, minutes or hours; every axis is in UTC and its
caption says so.

>>> Scale(datetime(2026, 11, 25, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=UTC), 0, 100).x(
...     datetime(2026, 11, 25, 12, tzinfo=UTC))
50.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from html import escape

from itpm.reports.charts import svg
from itpm.reports.charts.colours import MUTED, NOW, RULE
from itpm.reports.wording import when

__all__ = ["Scale", "end_of_day", "grid", "midnight", "now_line", "utc"]


@dataclass(frozen=True)
class Scale:
    """Maps moments between ``start`` and ``end`` to x coordinates between ``left`` and ``right``."""

    start: datetime
    end: datetime
    left: float
    right: float

    def x(self, moment: datetime) -> float:
        """Return the x coordinate of ``moment`` (clamped to the scale's ends)."""
        length = max((self.end - self.start).total_seconds(), 1.0)
        share = (utc(moment) - utc(self.start)).total_seconds() / length
        return self.left + (self.right - self.left) * min(max(share, 0.0), 1.0)


_STEPS_S = (1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200)
_STEPS_DAYS = (1, 2, 7, 14, 28, 91, 182, 364)


def _ticks(start: datetime, end: datetime, *, days: bool, most: int = 8) -> tuple[list[datetime], timedelta]:
    """Return round moments between ``start`` and ``end`` (at most ``most``), and the step between them.

    With ``days``, the moments are midnights: a plan is in days, and hours on its axis would suggest a precision
    the plan does not have.
    """
    length = (end - start).total_seconds()
    day_start = midnight(utc(start).date())
    for seconds in () if days else _STEPS_S:
        if length / seconds <= most:
            step = timedelta(seconds=seconds)
            first = day_start + step * math.ceil((utc(start) - day_start) / step)
            break
    else:
        step = timedelta(days=next((d for d in _STEPS_DAYS if length / 86400 / d <= most), _STEPS_DAYS[-1]))
        first = day_start if utc(start) == day_start else day_start + timedelta(days=1)
    ticks = []
    moment = first
    while moment <= utc(end):
        ticks.append(moment)
        moment += step
    return ticks, step


def grid(scale: Scale, top: float, bottom: float, *, days: bool) -> list[str]:
    """Return vertical rules and labels at round moments, and the axis caption naming the dates and zone."""
    ticks, step = _ticks(scale.start, scale.end, days=days)
    out = []
    previous: date | None = None
    for moment in ticks:
        x = scale.x(moment)
        out.append(svg.line(x, top, x, bottom, RULE))
        if days or step >= timedelta(days=1):
            label = moment.strftime("%d %b")
        else:
            label = moment.strftime("%H:%M:%S" if step < timedelta(minutes=1) else "%H:%M")
            if moment.date() != previous and previous is not None:
                label = moment.strftime("%d %b ") + label
        previous = moment.date()
        out.append(svg.text(label, x, bottom + 14, anchor="middle", fill=MUTED))
    first, last = utc(scale.start), utc(scale.end)
    if days:
        years = f"{first.year}" if first.year == last.year else f"{first.year} to {last.year}"
        caption = f"dates, {years} (days end at midnight UTC)"
    else:
        span = first.strftime("%Y-%m-%d") + ("" if first.date() == last.date() else last.strftime(" to %Y-%m-%d"))
        caption = f"time of day (UTC), {span}"
    out.append(svg.text(caption, scale.right, bottom + 28, anchor="end", fill=MUTED, size=10))
    return out


def now_line(scale: Scale, now: datetime, top: float, bottom: float) -> list[str]:
    """Return a dashed "now" line from ``top`` to ``bottom``; nothing when ``now`` is off the scale."""
    if not scale.start <= now <= scale.end:
        return []
    x = scale.x(now)
    return [
        f'<line class="now" x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bottom}" stroke="{NOW}" '
        f'stroke-width="1.5" stroke-dasharray="4 3"><title>now: {escape(when(now))}</title></line>',
        svg.text("now", x, top - 6, anchor="middle", fill=NOW, size=10),
    ]


def utc(moment: datetime) -> datetime:
    """Return ``moment`` in UTC (a naive one is taken as UTC): the charts' axes are in UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def midnight(day: date) -> datetime:
    """Return the start of ``day`` in UTC."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def end_of_day(day: date) -> datetime:
    """Return the end of ``day`` in UTC (the next midnight)."""
    # A milestone due on a day is met if reached before that day ends (as project_view judges it).
    return midnight(day + timedelta(days=1))
