"""What the caller knows about the project's live status when it notifies: plain sentences, computed elsewhere."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Briefing"]


@dataclass(frozen=True)
class Briefing:
    """The state of the project as a stakeholder should read it; every field is a finished sentence or empty.

    ``Briefing(progress="12 of 20 host-steps verified (60%)",
    schedule="projected finish 2026-11-27 14:00 UTC, on time for milestone 'Fleet compliant' due 2026-11-27",
    budget="EUR 1,240 of 4,000 spent (31%); forecast at completion EUR 3,100", asked="",
    links=["http://127.0.0.1:4200/runs/flow-run/5d1c...", "itpm status baseline-rollout-20261127-1400"])``
    """

    progress: str = ""
    schedule: str = ""
    budget: str = ""
    asked: str = ""  # what the reader should do beyond what the event itself asks (approvals, next steps)
    emergency: str = ""  # the run's emergency flag: it skipped approval gates (itpm.reports.emergency_flag)
    links: list[str] = field(default_factory=list)  # the Prefect UI address of the flow run, `itpm status RUN`
