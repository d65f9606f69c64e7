"""Ansible's event stream, typed: ansible-runner event dicts in, ``AnsibleEvent`` and ``HostRunResult`` out.

Pure translation with no I/O, tested with events recorded from real lab runs (tests/unit/data/).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from itpm.models.results import HostRunResult, HostStatus, PlannedChange, TaskFailure

__all__ = ["AnsibleEvent", "HOST_EVENTS", "parse_event", "summarize_hosts"]

# The events that carry one host's outcome of one task.
HOST_EVENTS = frozenset(
    {"runner_on_ok", "runner_on_failed", "runner_on_unreachable", "runner_on_skipped", "runner_item_on_failed"}
)


class AnsibleEvent(BaseModel):
    """One event of a run, as itpm's callers (the CLI, later the project log) see it."""

    model_config = ConfigDict(frozen=True)

    kind: str  # ansible-runner's event name: runner_on_ok, playbook_on_task_start, playbook_on_stats, ...
    counter: int
    created: datetime | None = None
    host: str | None = None
    play: str | None = None
    task: str | None = None
    changed: bool = False
    ignored: bool = False  # a failure with ignore_errors: true
    message: str = ""  # why a task failed or a host was unreachable
    diff: str = ""  # unified diff of what changed (or would change, in check mode)
    start: datetime | None = None
    end: datetime | None = None


def parse_event(raw: Mapping[str, Any]) -> AnsibleEvent:
    """Return the typed form of one ansible-runner event dict."""
    data: Mapping[str, Any] = raw.get("event_data") or {}
    result: Mapping[str, Any] = data.get("res") or {}
    kind = str(raw.get("event", ""))
    failed = kind in ("runner_on_failed", "runner_on_unreachable", "runner_item_on_failed")
    return AnsibleEvent(
        kind=kind,
        counter=int(raw.get("counter", 0)),
        created=_timestamp(raw.get("created")),
        host=data.get("host"),
        play=data.get("play"),
        task=data.get("task"),
        changed=bool(result.get("changed", False)) and kind == "runner_on_ok",
        ignored=bool(data.get("ignore_errors")) and kind == "runner_on_failed",
        message=_failure_message(result) if failed else "",
        diff=_render_diff(result.get("diff")),
        start=_timestamp(data.get("start")),
        end=_timestamp(data.get("end")),
    )


def summarize_hosts(events: Iterable[AnsibleEvent], hosts: Iterable[str]) -> dict[str, HostRunResult]:
    """Fold a run's events into one result per host of ``hosts``.

    A host with a failed task or unreachable is FAILED/UNREACHABLE (first failure kept); else CHANGED if any
    task changed it, OK if any task ran, SKIPPED if nothing ran there (for example a run that stopped early).
    """
    per_host: dict[str, list[AnsibleEvent]] = {h: [] for h in hosts}
    for event in events:
        if event.kind in HOST_EVENTS and event.host is not None:
            per_host.setdefault(event.host, []).append(event)
    return {host: _summarize_one(host, host_events) for host, host_events in per_host.items()}


def _summarize_one(host: str, events: list[AnsibleEvent]) -> HostRunResult:
    failure: TaskFailure | None = None
    status = HostStatus.SKIPPED
    ok = changed = skipped = 0
    changes = []
    for event in events:
        if event.kind == "runner_on_unreachable":
            failure = failure or TaskFailure(task=event.task or "", message=event.message)
            status = HostStatus.UNREACHABLE
        elif event.kind == "runner_on_failed" and not event.ignored:
            failure = failure or TaskFailure(task=event.task or "", message=event.message)
            if status is not HostStatus.UNREACHABLE:
                status = HostStatus.FAILED
        elif event.kind == "runner_on_skipped":
            skipped += 1
        elif event.kind in ("runner_on_ok", "runner_on_failed"):
            ok += 1
            if event.changed:
                changed += 1
                changes.append(PlannedChange(task=event.task or "", diff=event.diff))
    if status is HostStatus.SKIPPED and (ok or changed):
        status = HostStatus.CHANGED if changed else HostStatus.OK
    starts = [e.start for e in events if e.start is not None]
    ends = [e.end for e in events if e.end is not None]
    duration = (max(ends) - min(starts)).total_seconds() if starts and ends else 0.0
    return HostRunResult(
        host=host,
        status=status,
        ok_tasks=ok,
        changed_tasks=changed,
        skipped_tasks=skipped,
        failure=failure,
        changes=tuple(changes),
        duration_s=max(duration, 0.0),
    )


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _failure_message(result: Mapping[str, Any]) -> str:
    """Return what a person needs from a failed result: the message, then the command's error output."""
    parts = [str(result.get("msg", "")).strip()]
    for stream in ("stderr", "module_stderr", "stdout"):
        text = str(result.get(stream, "") or "").strip()
        if text and text not in parts[0]:
            parts.append("\n".join(text.splitlines()[-5:]))
            break
    if result.get("rc") not in (None, 0):
        parts.append(f"(exit {result['rc']})")
    return " ".join(p for p in parts if p) or "failed without a message"


def _render_diff(diff: object) -> str:
    """Turn Ansible's diff (a dict or list of before/after dicts, or 'prepared' text) into unified diff text."""
    items = diff if isinstance(diff, list) else [diff] if isinstance(diff, dict) else []
    rendered: list[str] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        if "prepared" in item:
            rendered.append(str(item["prepared"]))
            continue
        before, after = item.get("before", ""), item.get("after", "")
        if before == after:
            continue
        if not isinstance(before, str) or not isinstance(after, str):
            rendered.append(f"- {before}\n+ {after}\n")  # state changes like {'state': 'absent'} -> 'directory'
            continue
        rendered.append(
            "".join(
                difflib.unified_diff(
                    before.splitlines(keepends=True),
                    after.splitlines(keepends=True),
                    fromfile=str(item.get("before_header", "before")),
                    tofile=str(item.get("after_header", "after")),
                )
            )
        )
    return "".join(rendered)
