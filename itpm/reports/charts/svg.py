"""The marks every chart is drawn with, as SVG text: the chart element, words, lines, bars, diamonds, flags, legend.

Every mark that shows something has a ``<title>`` (a tooltip in a browser) and a ``class`` naming what it is;
words are escaped. The layout is shared too: the chart's width, the left column of row names, the row height.

>>> bar(10, 50, y=4, height=16, colour="#1b7f4b", css="bar batch passed", tip="s/canary: passed")  # doctest: +SKIP
'<rect class="bar batch passed" x="10.0" y="4.0" width="40.0" height="16.0" rx="2" fill="#1b7f4b" ...'
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from itpm.reports.charts.colours import INK, MUTED

__all__ = [
    "CHAR",
    "LABELS",
    "RIGHT",
    "ROW",
    "WIDTH",
    "bar",
    "chart",
    "diamond",
    "flag",
    "heading",
    "lane_label",
    "legend",
    "line",
    "note",
    "text",
]

WIDTH = 920
LABELS = 170  # the left column of lane names
RIGHT = 30
ROW = 24
CHAR = 6.6  # average width of a 11px sans-serif character, to decide whether a label fits in a bar


def chart(chart_id: str, title: str, label: str, height: float, body: Sequence[str]) -> str:
    """Return the chart's ``<svg>`` element: its id, title and label (for a screen reader) around ``body``."""
    return (
        f'<svg id="{chart_id}" role="img" viewBox="0 0 {WIDTH} {height:.0f}" width="{WIDTH}" '
        f'height="{height:.0f}" aria-label="{escape(label)}" '
        f'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="11">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def heading(words: str, y: float) -> str:
    """Return a panel's heading at ``y``."""
    return text(words, 0, y, fill=INK, size=13, weight="600")


def lane_label(words: str, y: float, *, bold: bool = False) -> str:
    """Return the name of the row at ``y``, in the left column (cut to what fits)."""
    shown = words if len(words) <= 26 else words[:25] + "\u2026"  # noqa: PLR2004 - what fits the label column
    return text(shown, LABELS - 10, y + ROW / 2 + 4, anchor="end", fill=INK, weight="600" if bold else "400")


def note(words: str, x: float, y: float, *, anchor: str = "start") -> str:
    """Return a muted remark, such as why a panel is empty."""
    return text(words, x, y, anchor=anchor, fill=MUTED, size=12, css="note")


def text(
    words: str,
    x: float,
    y: float,
    *,
    anchor: str = "start",
    fill: str = INK,
    size: int = 11,
    weight: str = "400",
    rotate: bool = False,
    css: str = "",
) -> str:
    """Return ``words`` at ``x``, ``y`` (escaped), optionally turned to read upwards."""
    turn = f' transform="rotate(-90 {x:.1f} {y:.1f})"' if rotate else ""
    cls = f' class="{css}"' if css else ""
    return (
        f'<text{cls} x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}" font-size="{size}" '
        f'font-weight="{weight}"{turn}>{escape(words)}</text>'
    )


def line(x1: float, y1: float, x2: float, y2: float, colour: str, *, dash: str = "") -> str:
    """Return a straight line from ``x1``, ``y1`` to ``x2``, ``y2``."""
    dashes = f' stroke-dasharray="{dash}"' if dash else ""
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}"{dashes}/>'


def bar(
    left: float, right: float, *, y: float, height: float, colour: str, css: str, tip: str, min_width: float = 1
) -> str:
    """Return a bar from ``left`` to ``right`` (at least ``min_width`` wide) with ``tip`` as its tooltip."""
    width = max(right - left, min_width)
    return (
        f'<rect class="{css}" x="{left:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" rx="2" '
        f'fill="{colour}" stroke="#ffffff" stroke-width="1"><title>{escape(tip)}</title></rect>'
    )


def diamond(x: float, y: float, colour: str, css: str, tip: str) -> str:
    """Return a diamond centred on ``x``, ``y`` (a milestone) with ``tip`` as its tooltip."""
    r = 7
    points = f"{x:.1f},{y - r:.1f} {x + r:.1f},{y:.1f} {x:.1f},{y + r:.1f} {x - r:.1f},{y:.1f}"
    return (
        f'<polygon class="{css}" points="{points}" fill="{colour}" stroke="#ffffff" stroke-width="1">'
        f"<title>{escape(tip)}</title></polygon>"
    )


def flag(x: float, y: float, label: str, tip: str, *, height: float = ROW) -> str:
    """Return a downward triangle at ``x`` over a row at ``y``, with a label beside it."""
    top = y + 2
    points = f"{x - 6:.1f},{top:.1f} {x + 6:.1f},{top:.1f} {x:.1f},{top + 9:.1f}"
    anchor = "end" if x > WIDTH - 160 else "start"  # keep the label inside the chart
    dx = -9 if anchor == "end" else 9
    stem = line(x, top + 9, x, y + height - 2, INK) if height else ""
    return (
        f'<polygon class="finish" points="{points}" fill="{INK}"><title>{escape(tip)}</title></polygon>'
        + stem
        + text(label, x + dx, top + 9, anchor=anchor, fill=INK, size=10)
    )


def legend(entries: Sequence[tuple[str, str]], *, top: float) -> tuple[list[str], int]:
    """Return a legend of coloured swatches, one per distinct entry, wrapped to the chart's width; and its height."""
    unique = list(dict.fromkeys(entries))
    if not unique:
        return [], 0
    out, x, y = [], 0.0, top
    for name, colour in unique:
        width = 22 + len(name) * CHAR + 16
        if x + width > WIDTH and x > 0:
            x, y = 0.0, y + 18
        out.append(f'<rect class="swatch" x="{x:.1f}" y="{y:.1f}" width="14" height="10" rx="2" fill="{colour}"/>')
        out.append(text(name, x + 20, y + 9, fill=INK))
        x += width
    return out, int(y - top) + 20
