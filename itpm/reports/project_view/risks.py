"""A run's risks: the project file's, and those raised during the run, each open or closed, materialized or not.

>>> [(r.id, r.open, r.materialized) for r in risk_views(project, events)]  # doctest: +SKIP
[('R1', True, True), ('R2', False, False)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from itpm.log.events import Event, RiskClosed, RiskRaised
from itpm.models.project import Project
from itpm.reports.project_view.model import RiskView

__all__ = ["risk_views"]


def risk_views(project: Project, events: Sequence[Event]) -> tuple[RiskView, ...]:
    """Return every risk, the project file's first, as raised, materialized and closed by ``events``."""
    risks: dict[str, RiskView] = {
        r.id: RiskView(r.id, r.title, r.likelihood.value, r.impact.value, r.owner, "project file", open=r.open)
        for r in project.risks
    }
    for entry in events:
        if isinstance(entry, RiskRaised):
            known = risks.get(entry.risk_id)
            risks[entry.risk_id] = RiskView(
                entry.risk_id,
                entry.title,
                entry.likelihood,
                entry.impact,
                entry.owner,
                known.source if known else "raised during the run",
                open=True,
                materialized=entry.materialized or (known.materialized if known else False),
                note=entry.note,
            )
        elif isinstance(entry, RiskClosed) and entry.risk_id in risks:
            known = risks[entry.risk_id]
            risks[entry.risk_id] = replace(known, open=False, note=entry.note or known.note)
    return tuple(risks.values())
