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

__all__ = ["HOST_EVENTS", "AnsibleEvent", "parse_event", "summarize_hosts"]

# The events that carry one host's outcome of one task.
HOST_EVENTS = frozenset(
    {
        "runner_on_ok",
        "runner_on_failed",
        "runner_on_unreachable",
        "runner_on_skipped",
        "runner_item_on_failed",
    }
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
    task_id: str | None = None  # Ansible's task uuid: a task name may repeat, its id does not
    changed: bool = False
    ignored: bool = False  # a failure with ignore_errors: true
    message: str = ""  # why a task failed or a host was unreachable
    timed_out: bool = False  # the task hit its time bound, or the host did not answer within the connect timeout
    diff: str = ""  # unified diff of what changed (or would change, in check mode)
    start: datetime | None = None
    end: datetime | None = None


def parse_event(raw: Mapping[str, Any]) -> AnsibleEvent:
    """Return the typed form of one ansible-runner event dict."""
    data: Mapping[str, Any] = raw.get("event_data") or {}
    result: Mapping[str, Any] = data.get("res") or {}
    kind = str(raw.get("event", ""))
    failed = kind in ("runner_on_failed", "runner_on_unreachable", "runner_item_on_failed")
    # no_log: Ansible hides the result, and ansible-runner drops even its 'changed'; Ansible's line still says it.
    hidden_change = "censored" in result and any(
        line.startswith("changed: [") for line in str(raw.get("stdout", "")).splitlines()
    )
    return AnsibleEvent(
        kind=kind,
        counter=int(raw.get("counter", 0)),
        created=_timestamp(raw.get("created")),
        host=data.get("host"),
        play=data.get("play"),
        task=data.get("task"),
        task_id=data.get("task_uuid"),
        changed=(bool(result.get("changed", False)) or hidden_change) and kind == "runner_on_ok",
        ignored=bool(data.get("ignore_errors")) and kind == "runner_on_failed",
        message=_plain_failure(kind, result) if failed else "",
        timed_out=failed and _timed_out(kind, result),
        diff=_render_diff(data.get("diff") if kind == "runner_on_file_diff" else result.get("diff")),
        start=_timestamp(data.get("start")),
        end=_timestamp(data.get("end")),
    )


def summarize_hosts(events: Iterable[AnsibleEvent], hosts: Iterable[str]) -> dict[str, HostRunResult]:
    """Fold a run's events into one result per host of ``hosts``.

    A host with a failed task or unreachable is FAILED/UNREACHABLE (first failure kept); else CHANGED if any
    task changed it, OK if any task ran, SKIPPED if nothing ran there (for example a run that stopped early).
    """
    per_host: dict[str, list[AnsibleEvent]] = {h: [] for h in hosts}
    # runner_on_file_diff carries the diff of every loop item too; a task's own result only the last one's.
    file_diffs: dict[tuple[str, str | None], list[str]] = {}
    for event in events:
        if event.host is None:
            continue
        if event.kind in HOST_EVENTS:
            per_host.setdefault(event.host, []).append(event)
        elif event.kind == "runner_on_file_diff" and event.diff:
            file_diffs.setdefault((event.host, event.task_id), []).append(event.diff)
    return {host: _summarize_one(host, host_events, file_diffs) for host, host_events in per_host.items()}


def _summarize_one(
    host: str, events: list[AnsibleEvent], file_diffs: Mapping[tuple[str, str | None], list[str]]
) -> HostRunResult:
    failure: TaskFailure | None = None
    status = HostStatus.SKIPPED
    ok = changed = skipped = 0
    changes = []
    for event in events:
        if event.kind == "runner_on_unreachable":
            failure = failure or TaskFailure(task=event.task or "", message=event.message, timed_out=event.timed_out)
            status = HostStatus.UNREACHABLE
        elif event.kind == "runner_on_failed" and not event.ignored:
            failure = failure or TaskFailure(task=event.task or "", message=event.message, timed_out=event.timed_out)
            if status is not HostStatus.UNREACHABLE:
                status = HostStatus.FAILED
        elif event.kind == "runner_on_skipped":
            skipped += 1
        elif event.kind in ("runner_on_ok", "runner_on_failed"):
            ok += 1
            if event.changed:
                changed += 1
                diff = "".join(file_diffs.get((host, event.task_id), [])) or event.diff
                changes.append(PlannedChange(task=event.task or "", diff=diff))
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


# How mitogen words a connection that died under a running task (its text even asks for a bug report), and one it
# could not (re)open within the connect timeout; OpenSSH's own words ("Failed to connect ...") are plain already.
_LOST_CONNECTION_SIGNS = ("was disconnected", "has disconnected")
_CONNECT_TIMEOUT_SIGN = "Task failed: Connection timed out"


def _plain_failure(kind: str, result: Mapping[str, Any]) -> str:
    """Return ``_failure_message``, led by plain words when a host hit a bound or its connection was lost.

    One line either way: the project log keeps a failure's last line, and the CLI its first.

    >>> _plain_failure("runner_on_failed", {"msg": "Task failed: Timed out after 20 second(s).",
    ...                                     "timedout": {"period": 20}})
    'timed out after 20 s (task_timeout, ITPM_TASK_TIMEOUT): slow or lossy link, or a command that hangs?'
    """
    timedout = result.get("timedout")
    if isinstance(timedout, Mapping):  # Ansible's own "Task failed: Timed out after 20 second(s)." says less
        return (
            f"timed out after {timedout.get('period', '?')} s (task_timeout, ITPM_TASK_TIMEOUT): "
            "slow or lossy link, or a command that hangs?"
        )
    message = _failure_message(result)
    if kind == "runner_on_unreachable" and any(sign in message for sign in _LOST_CONNECTION_SIGNS):
        return f"connection lost mid-task (sshd stopped, host down, link cut or too lossy?): {message}"
    if kind == "runner_on_unreachable" and message.startswith(_CONNECT_TIMEOUT_SIGN):
        return f"could not connect in time (link down, slow or lossy?): {message}"
    return message


def _timed_out(kind: str, result: Mapping[str, Any]) -> bool:
    """Return whether a failed result means a time bound ran out (the task's, or the connection's)."""
    if isinstance(result.get("timedout"), Mapping):
        return True
    return kind == "runner_on_unreachable" and _failure_message(result).startswith(_CONNECT_TIMEOUT_SIGN)


def _failure_message(result: Mapping[str, Any]) -> str:
    """Return what a person needs from a failed result: the message, then the command's error output.

    For a loop, Ansible's own message is only "One or more items failed": the first failed item's is used.
    """
    items = result.get("results")
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and item.get("failed"):
                label = item.get("_ansible_item_label", item.get("item", ""))
                return f"item {label}: {_failure_message(item)}"
    # A no_log task's result holds only Ansible's "the output has been hidden ... 'no_log: true' ..." (censored).
    parts = [str(result.get("msg") or result.get("censored") or "").strip()]
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
        if isinstance(before, dict) and isinstance(after, dict):
            rendered.append(_attribute_diff(before, after))
            continue
        if not isinstance(before, str) or not isinstance(after, str):
            rendered.append(f"- {before}\n+ {after}\n")
            continue
        rendered.append(
            "".join(
                difflib.unified_diff(
                    before.splitlines(keepends=True),
                    after.splitlines(keepends=True),
                    # after_header is often a temporary copy of the template: name the target on both sides
                    fromfile=f"{item.get('before_header', 'target')} (now)",
                    tofile=f"{item.get('before_header', 'target')} (after)",
                )
            )
        )
    return "".join(rendered)


def _attribute_diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """Render the file module's attribute diff: ``/srv/itpm/shared: mode '0777' -> '02770'``."""
    path = after.get("path") or before.get("path") or "?"
    changed = [
        f"{key} {before.get(key)!r} -> {after.get(key)!r}"
        for key in sorted(set(before) | set(after))
        if key != "path" and before.get(key) != after.get(key)
    ]
    return f"{path}: {', '.join(changed)}\n" if changed else ""
