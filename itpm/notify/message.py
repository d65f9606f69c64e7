"""The words of a notice: what happened, what it means for schedule and budget, and what is asked of the reader.

One ``Message`` per event serves every channel: ``text`` for e-mail, ``markdown`` for the file drop, ``data`` for
webhooks. Everything in it comes from the project file, the log event and the caller's ``Briefing``; no channel
address and no secret ever does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import JsonValue

from itpm.log.events import ApprovalRequested, EmergencyDeclared, PhaseChanged, RunFinished, RunHalted
from itpm.models.project import Project, Step
from itpm.notify.briefing import Briefing
from itpm.notify.categories import Notifiable, notice_for
from itpm.signing.instructions import how_to_review

__all__ = ["Message", "compose"]

_FOR_INFORMATION = "Nothing: this is for your information."
_COMMAND = "$ "  # a line of a section that starts with this is a command to type, shown as code


@dataclass(frozen=True)
class Message:
    """A composed notice.

    ``Message(subject="[itpm] Fleet baseline: approval needed for step 'baseline'", text="Fleet baseline ...",
    markdown="# Fleet baseline: approval needed ...", data={"source": "itpm", "about": "approval_requested", ...},
    about="approval_requested", run_id="baseline-rollout-20261127-1400", at=datetime(2026, 11, 27, 14, 0, tzinfo=UTC))``
    """

    subject: str
    text: str  # plain text, for e-mail
    markdown: str  # for the file drop
    data: dict[str, JsonValue]  # the webhook's JSON body
    about: str  # the kind of event, as the log's NoticeSent records it
    run_id: str
    at: datetime


@dataclass(frozen=True)
class _Story:
    headline: str  # the subject after the project title
    happened: list[str]
    asked: list[str]


@dataclass(frozen=True)
class _Section:
    title: str
    lines: list[str]


def compose(project: Project, event: Notifiable, briefing: Briefing) -> Message:
    """Return the message that tells a stakeholder about ``event`` of a run of ``project``.

    For an approval request the subject is ``"[itpm] Fleet baseline: approval needed for step 'baseline'"`` and
    the body says who may approve, the command that does it, and what the run costs and when it ends so far.
    """
    title = " ".join(project.title.split())  # a YAML block scalar may span lines
    story = _story(project, event, briefing)
    if briefing.emergency:  # every notice of an emergency change says so, until it is reviewed and after
        story = _Story(story.headline, [_sentence(briefing.emergency), *story.happened], story.asked)
    urgent = "[EMERGENCY CHANGE] " if briefing.emergency else ""
    # One header line, whatever a step is called.
    subject = " ".join(f"[itpm] {urgent}{title}: {story.headline}".split())
    intro = [
        f"{title} (project {project.name}, environment {project.environment}).",
        f"Run {event.run_id}, {_when(event.at)}.",
    ]
    status = [
        f"{label}: {_sentence(value)}"
        for label, value in (
            ("Progress", briefing.progress),
            ("Schedule", briefing.schedule),
            ("Budget", briefing.budget),
        )
        if value.strip()
    ]
    sections = [
        _Section("What happened", story.happened),
        *([_Section("What it means", status)] if status else []),
        _Section("What is asked of you", story.asked),
        *([_Section("Links", list(briefing.links))] if briefing.links else []),
    ]
    text = _text(intro, sections)
    category = notice_for(event)
    return Message(
        subject=subject,
        text=text,
        markdown=_markdown(f"{title}: {story.headline}", intro, sections),
        data={
            "source": "itpm",
            "about": event.kind,
            "category": category.value if category else None,
            "subject": subject,
            # Chat webhooks (Slack, Mattermost) show a top-level "text" as the message: they work unadapted.
            "text": text,
            "project": {
                "name": project.name,
                "title": title,
                "kind": project.kind.value,
                "environment": project.environment,
            },
            "run_id": event.run_id,
            "at": event.at.astimezone(UTC).isoformat(),
            "event": event.model_dump(mode="json", exclude={"run_id", "project", "at", "kind"}),
            "briefing": {"progress": briefing.progress, "schedule": briefing.schedule, "budget": briefing.budget},
            "emergency": briefing.emergency,
            "asked": [line.removeprefix(_COMMAND) for line in story.asked],
            "links": list(briefing.links),
        },
        about=event.kind,
        run_id=event.run_id,
        at=event.at,
    )


def _story(project: Project, event: Notifiable, briefing: Briefing) -> _Story:
    """Return the headline, what happened and what is asked, for each kind of event."""
    extra = [_sentence(briefing.asked)] if briefing.asked.strip() else []
    match event:
        case PhaseChanged():
            return _Story(
                f"entered the {_phase_name(event.phase)} phase",
                _phase_happened(project, event),
                extra or [_FOR_INFORMATION],
            )
        case ApprovalRequested():
            return _Story(
                f"approval needed for {_step_name(event.step)}",
                _approval_happened(project, event),
                _approval_asked(project, event, briefing) + extra,
            )
        case EmergencyDeclared():
            return _Story(
                f"emergency change skips the approval of {', '.join(_step_name(s) for s in event.steps)}",
                [
                    f"{event.by} declared run {event.run_id} an emergency change: it does not wait for the approval "
                    f"of {', '.join(_step_name(s) for s in event.steps)}. Reason: {_sentence(event.reason)}"
                ],
                [
                    f"A team member with role {' or '.join(event.roles)}, other than {event.by}, reviews the change "
                    "once the run has ended (a post-implementation review); until then it stays flagged:",
                    f"{_COMMAND}{how_to_review(event.run_id)} --comment '<what you found>'",
                    *extra,
                ],
            )
        case RunHalted():
            where = _where(event)
            return _Story(
                f"run halted at {where}" if where else "run halted",
                [f"The run halted{f' at {where}' if where else ''}: {_sentence(event.reason)}", *_on_call(project)],
                [_sentence(event.next_steps), *extra],
            )
        case RunFinished():
            return _finished(project, event, extra)


def _phase_happened(project: Project, event: PhaseChanged) -> list[str]:
    lines = [f"The run entered the {_phase_name(event.phase)} phase."]
    lines += [
        f"The plan has this phase from {p.start} to {p.end}." for p in project.phases if p.name.value == event.phase
    ]
    lines += [
        f"Milestone '{m.name}' is due {m.due}." for m in project.milestones if m.phase and m.phase.value == event.phase
    ]
    return lines


def _approval_happened(project: Project, event: ApprovalRequested) -> list[str]:
    lines = [
        f"{_step_name(event.step, capital=True)} waits for approval before it changes any host; "
        f"{event.requester} requested the run."
    ]
    step = _step(project, event.step)
    if step is not None and step.description:
        lines.append(f"The step: {_sentence(step.description)}")
    return lines


def _approval_asked(project: Project, event: ApprovalRequested, briefing: Briefing) -> list[str]:
    roles = " or ".join(event.roles)
    approvers = [p for p in project.team if p.role in event.roles and not p.is_(event.requester)]
    if approvers:
        who = "; ".join(f"{p.name} ({p.role}{f', login {p.user}' if p.user else ''})" for p in approvers)
        lines = [f"A team member with role {roles}, other than {event.requester}, approves or rejects the step: {who}."]
    else:
        lines = [
            f"Nobody on the team but {event.requester}, who requested the run, has role {roles}: "
            "add an approver to the project's team first."
        ]
    if event.lapsed:
        lines.append(f"Asked again: {_sentence(event.lapsed)}")
    if event.approvals_needed > 1:
        lines.append(f"This change needs {event.approvals_needed} approvals from different people and roles.")
    key = ""
    if event.signatures_required:
        key = " --key ~/.ssh/id_ed25519"
        lines.append("Answers must be signed with the approver's SSH key; unsigned ones are refused.")
    lines += [
        "To approve:",
        f"{_COMMAND}itpm approve {event.run_id} --as <login>{key}",
        "To reject (the step then changes no host):",
        f"{_COMMAND}itpm approve {event.run_id} --as <login>{key} --reject --comment '<why>'",
    ]
    ui = next((link for link in briefing.links if link.startswith(("http://", "https://"))), None)
    lines.append(f"Or answer the form of the paused flow run in the Prefect UI{f': {ui}' if ui else '.'}")
    step = _step(project, event.step)
    gate = step.strategy.approval if step is not None else None
    if gate is not None:
        lines.append(
            f"If nobody answers within {_hours(gate.timeout_hours)}, the run stops before changing the step's hosts."
        )
    return lines


def _finished(project: Project, event: RunFinished, extra: list[str]) -> _Story:
    resume = [
        "Nothing unless you operate the run: once the cause is fixed, this carries on where it stopped:",
        f"{_COMMAND}itpm resume {event.run_id}",
    ]
    if event.status == "completed":
        done = ["The run completed: every step of the project is done and verified."]
        done += [f"Objective: {_sentence(o)}" for o in project.objectives]
        return _Story("run completed", done, extra or [_FOR_INFORMATION])
    if event.status == "halted":
        happened = ["The run ended halted: it stopped before its last step; the halt notice before this one says why."]
        return _Story("run ended halted", happened + _on_call(project), extra or resume)
    if event.status == "rejected":
        happened = ["The run ended because an approver rejected a step; that step changed no host."]
        again = [f"Nothing unless the change should still happen: then someone starts a new run of {project.name}."]
        return _Story("run ended rejected", happened, extra or again)
    if event.status == "failed":
        happened = [
            "The run failed: itpm itself could not carry on (an error, not a host failing its checks); "
            "the flow run's logs in the Prefect UI say why."
        ]
        return _Story("run failed", happened + _on_call(project), extra or resume)
    # A dry run notifies nobody (see categories); should a caller compose one anyway, it still reads right.
    return _Story(
        "dry run finished", ["The dry run planned every step and changed no host."], extra or [_FOR_INFORMATION]
    )


def _on_call(project: Project) -> list[str]:
    people = [f"{p.name}{f' ({p.email})' if p.email else ''}" for p in project.team if p.on_call]
    return [f"On call: {'; '.join(people)}."] if people else []


def _step_name(name: str | None, *, capital: bool = False) -> str:
    said = f"step '{name}'" if name else "the next step"
    return said[:1].upper() + said[1:] if capital else said


def _step(project: Project, name: str | None) -> Step | None:
    return next((s for s in project.steps if s.name == name), None)


def _where(event: RunHalted) -> str:
    """Return ``"step 'baseline', batch canary"`` or ``"step 'baseline', batch 2"``; '' when no step is named.

    Batch labels are ``<step>/<batch name>`` and the names are ``canary`` or ``batch 2``.
    """
    if not event.step:
        return ""
    batch = (event.batch or "").removeprefix(f"{event.step}/")
    if batch and not batch.startswith("batch"):
        batch = f"batch {batch}"
    return f"step '{event.step}'{f', {batch}' if batch else ''}"


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _phase_name(phase: str) -> str:
    return phase.replace("_", " ")


def _hours(hours: float) -> str:
    return f"{hours:g} hour{'' if hours == 1 else 's'}"


def _sentence(text: str) -> str:
    """Return ``text`` on one line, ending in a full stop unless it ends in punctuation already."""
    flat = " ".join(text.split())
    return flat if not flat or flat[-1] in ".!?:" else f"{flat}."


def _text(intro: list[str], sections: list[_Section]) -> str:
    """Return the plain-text body: the intro, then each section under an underlined title; commands indented."""
    parts = ["\n".join(intro)]
    for section in sections:
        lines = [f"    {line.removeprefix(_COMMAND)}" if line.startswith(_COMMAND) else line for line in section.lines]
        parts.append("\n".join([section.title, "-" * len(section.title), *lines]))
    return "\n\n".join(parts) + "\n"


def _markdown(heading: str, intro: list[str], sections: list[_Section]) -> str:
    """Return the Markdown body: commands as code, links as a list (URLs clickable)."""
    parts = [f"# {heading}", "  \n".join(intro)]
    for section in sections:
        if section.title == "Links":
            items = [
                f"- <{link}>" if link.startswith(("http://", "https://")) else f"- `{link}`" for link in section.lines
            ]
            parts.append("\n".join([f"## {section.title}", "", *items]))
            continue
        lines = [f"`{line.removeprefix(_COMMAND)}`" if line.startswith(_COMMAND) else line for line in section.lines]
        parts.append("\n\n".join([f"## {section.title}", *lines]))
    return "\n\n".join(parts) + "\n"
