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


def test_a_host_past_a_bound_is_named_in_plain_words() -> None:
    # The results of real lab runs (tests/lab/test_network_faults.py): a task past ANSIBLE_TASK_TIMEOUT on a slow
    # link, and, under mitogen, sshd killed and the link taken down while a task ran, and a reconnection through
    # 50% packet loss.
    def event(kind: str, task: str, msg: str, **res: object) -> AnsibleEvent:
        data = {"host": "h3", "task": task, "res": {"msg": msg, "changed": False, **res}}
        return parse_event({"event": kind, "counter": 1, "event_data": data})

    timed_out = event(
        "runner_on_failed",
        "Read the host's report",
        "Task failed: Timed out after 20 second(s).",
        timedout={"frame": "Configure `DISPLAY_TRACEBACK` to see a traceback on timeout errors.", "period": 20},
    )
    sshd_killed = event(
        "runner_on_unreachable",
        "Stamp",
        "Task failed: Channel was disconnected while connection attempt was in progress; this may be caused by "
        "an abnormal Ansible exit, or due to an unreliable target.",
        unreachable=True,
    )
    link_down = event(
        "runner_on_unreachable",
        "Stamp",
        "Task failed: Mitogen was disconnected from the remote environment while a call was in-progress. If you "
        "feel this is in error, please file a bug. Original error was: the respondent Context has disconnected",
        unreachable=True,
    )
    refused = event("runner_on_unreachable", "Stamp", "Failed to connect to the host via ssh: Connection refused")
    slow_connect = event("runner_on_unreachable", "Marker file", "Task failed: Connection timed out.", unreachable=True)
    assert timed_out.message == (
        "timed out after 20 s (task_timeout, ITPM_TASK_TIMEOUT): slow or lossy link, or a command that hangs?"
    )
    for lost in (sshd_killed, link_down):
        assert lost.message.startswith("connection lost mid-task (sshd stopped, host down, link cut or too lossy?): ")
        assert "\n" not in lost.message  # the log keeps a failure's last line, the CLI its first: one line for both
    assert refused.message == "Failed to connect to the host via ssh: Connection refused"  # plain already
    assert slow_connect.message.startswith("could not connect in time (link down, slow or lossy?): ")
    h3 = summarize_hosts([timed_out], ["h3"])["h3"]
    assert h3.status is HostStatus.FAILED and h3.failure is not None  # counts against max_fail_percent
    assert h3.failure.task == "Read the host's report"
