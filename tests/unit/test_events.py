"""Ansible events recorded from real lab runs (tests/unit/data) in, typed per-host results out."""

from __future__ import annotations

import json
from pathlib import Path

from itpm.execution.events import AnsibleEvent, parse_event, summarize_hosts
from itpm.models.results import HostStatus, PlaybookResult

DATA = Path(__file__).parent / "data"


def _events(name: str) -> list[AnsibleEvent]:
    return [parse_event(json.loads(line)) for line in (DATA / f"{name}.jsonl").read_text().splitlines()]


def test_plan_of_a_drifted_host_lists_its_changes_with_diffs() -> None:
    # Recorded: check mode + diff on h3 (banner rewritten, /srv/itpm/shared chmod 0777) and converged h4.
    hosts = summarize_hosts(_events("plan_drifted_h3"), ["h3", "h4"])
    h3, h4 = hosts["h3"], hosts["h4"]
    assert h3.status is HostStatus.CHANGED
    assert [c.task for c in h3.changes] == [
        "Banner shown before SSH login",
        "Service directory tree",
        "Reload sshd",
    ]
    banner_diff = h3.changes[0].diff
    assert "--- /etc/issue.net (now)" in banner_diff
    assert "-drifted" in banner_diff and "+Example Corp IT - authorised access only." in banner_diff
    assert h3.changes[1].diff == "/srv/itpm/shared: mode '02777' -> '02770'\n"  # a loop item's diff
    assert (h4.status, h4.changes, h4.changed_tasks) == (HostStatus.OK, (), 0)
    assert h4.ok_tasks == 13 and h4.duration_s > 0  # the role's 13 tasks; the handler did not run


def test_unreachable_and_refused_host_keys_are_per_host_values() -> None:
    # Recorded: sshd killed on h2, a wrong key for h5 in known_hosts, h3 drifted, h1 converged.
    hosts = summarize_hosts(_events("apply_unreachable_h2_hostkey_h5"), ["h1", "h2", "h3", "h5"])
    assert hosts["h1"].status is HostStatus.OK
    assert hosts["h3"].status is HostStatus.CHANGED
    h2, h5 = hosts["h2"], hosts["h5"]
    assert h2.status is HostStatus.UNREACHABLE and h2.failure is not None
    assert "Connection refused" in h2.failure.message and not h2.failure.host_key_mismatch
    assert h5.status is HostStatus.UNREACHABLE and h5.failure is not None
    assert h5.failure.host_key_mismatch, h5.failure.message


def test_failed_task_keeps_first_failure_and_ignored_errors_do_not_count() -> None:
    def event(kind: str, counter: int, task: str, **res: object) -> AnsibleEvent:
        return parse_event({"event": kind, "counter": counter, "event_data": {"host": "h1", "task": task, "res": res}})

    ignored = parse_event(
        {
            "event": "runner_on_failed",
            "counter": 1,
            "event_data": {"host": "h1", "task": "probe", "ignore_errors": True, "res": {"msg": "meh"}},
        }
    )
    events = [
        ignored,
        event("runner_on_ok", 2, "write config", changed=True),
        event("runner_on_failed", 3, "start daemon", msg="non-zero return code", stderr="port in use", rc=1),
        event("runner_on_failed", 4, "later", msg="second"),
    ]
    result = summarize_hosts(events, ["h1", "h2"])
    assert result["h1"].status is HostStatus.FAILED
    assert result["h1"].failure is not None
    assert result["h1"].failure.task == "start daemon"
    assert result["h1"].failure.message == "non-zero return code port in use (exit 1)"
    assert result["h1"].changed_tasks == 1
    assert result["h2"].status is HostStatus.SKIPPED  # selected, but no event: reported, not dropped


def test_result_maps_split_every_host_once() -> None:
    hosts = summarize_hosts(_events("apply_unreachable_h2_hostkey_h5"), ["h1", "h2", "h3", "h5"])
    result = PlaybookResult(
        run_id="r",
        playbook=Path("p.yml"),
        check_mode=False,
        strategy="mitogen",
        runner_status="failed",
        rc=4,
        duration_s=1.0,
        hosts=hosts,
    )
    assert sorted(result.ok) == ["h1", "h3"] and sorted(result.failed) == ["h2", "h5"]
    assert sorted(result.unreachable) == ["h2", "h5"] and list(result.changed) == ["h3"]
    assert not result.succeeded
