"""Which kind of notice a project log event is, if any: the ``wants`` of a stakeholder are these categories."""

from __future__ import annotations

from itpm.log.events import ApprovalRequested, EmergencyDeclared, Event, PhaseChanged, RunFinished, RunHalted
from itpm.models.project import Notice

__all__ = ["Notifiable", "notice_for"]

# The events a stakeholder can be told about; every other event is for the log and the reports only.
Notifiable = PhaseChanged | ApprovalRequested | EmergencyDeclared | RunHalted | RunFinished

_FINISHED: dict[str, Notice | None] = {
    "completed": Notice.COMPLETION,
    "halted": None,  # the RunHalted just before it told the same people why, and what to do
    "rejected": Notice.HALTS,
    "failed": Notice.HALTS,
    "dry_run": None,  # a rehearsal changed nothing: nobody outside the team needs to hear of it
    # Stopped by Ctrl-C or the service manager, where it stood; the person who stopped it resumes it. A run that
    # then halts or completes tells the stakeholders as usual.
    "interrupted": None,
}


def notice_for(event: Event) -> Notice | None:
    """Return the category of notice ``event`` is, or None when it notifies nobody.

    ``notice_for(RunFinished(run_id="r1", project="p", status="rejected"))`` is ``Notice.HALTS``.
    """
    match event:
        case PhaseChanged():
            return Notice.PHASE_CHANGES
        case ApprovalRequested() | EmergencyDeclared():  # those who approve hear that their gates are skipped
            return Notice.APPROVALS
        case RunHalted():
            return Notice.HALTS
        case RunFinished():
            return _FINISHED[event.status]
        case _:
            return None
