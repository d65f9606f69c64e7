"""The charts' colours: outcomes of phases, batches and approvals, milestone states, and the ink of axes and words.

Colour-blind-safe hues (Okabe-Ito); every coloured mark also has words in its tooltip and in the legend, so that
no colour is the only way to tell one thing from another.

>>> OUTCOME_COLOURS["halted"] == RED
True
"""

from __future__ import annotations

from itpm.reports.project_view import MilestoneState

__all__ = [
    "AMBER",
    "BLUE",
    "GREEN",
    "GREY",
    "INK",
    "MUTED",
    "NOW",
    "ORANGE",
    "OUTCOME_COLOURS",
    "PLANNED",
    "RED",
    "RULE",
    "SKY",
    "STATE_COLOURS",
    "TEAL",
]

GREEN, TEAL, BLUE, SKY, AMBER, ORANGE, RED, GREY = (
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
    "passed": GREEN,
    "tolerated": AMBER,
    "halted": RED,
    "running": SKY,
    "waiting": GREY,
    "approved": TEAL,
    "rejected": RED,
}
STATE_COLOURS = {
    MilestoneState.REACHED: GREEN,
    MilestoneState.REACHED_LATE: ORANGE,
    MilestoneState.ON_TRACK: BLUE,
    MilestoneState.AT_RISK: AMBER,
    MilestoneState.OVERDUE: RED,
    MilestoneState.NOT_MEASURED: GREY,
}
NOW = "#c0392b"  # the "now" line
PLANNED = "#b8c4d6"  # planned phases
INK, MUTED, RULE = "#1f2933", "#5f6b76", "#d5dae0"  # words and axes; notes and tick labels; grid rules
