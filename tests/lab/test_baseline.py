"""The baseline on real lab hosts: apply, verify, idempotence, check mode, and the event stream."""

from __future__ import annotations

import paramiko

from itpm.execution.events import AnsibleEvent
from itpm.execution.runner import plan_playbook, run_playbook
from itpm.models.results import CheckOutcome, HostStatus, PlaybookResult
from itpm.verification.runner import verify

from .conftest import BASELINE, BASELINE_CHECKS, HOSTS, Lab

CHECKS_PER_HOST = 11


def test_baseline_applies_to_fresh_hosts_and_every_check_passes(lab: Lab, first_apply: PlaybookResult) -> None:
    assert first_apply.succeeded, first_apply.stdout_tail
    assert len(first_apply.hosts) == HOSTS
    assert {r.status for r in first_apply.hosts.values()} == {HostStatus.CHANGED}
    assert all(r.changed_tasks >= 10 for r in first_apply.hosts.values())
    verification = verify([BASELINE_CHECKS], lab.inventory, lab.settings)
    assert verification.succeeded, {h: c.failures for h, c in verification.failed.items()}
    assert all(len(c.checks) == CHECKS_PER_HOST for c in verification.hosts.values())
    assert all(c.outcome is CheckOutcome.PASSED for h in verification.hosts.values() for c in h.checks)


def test_second_apply_changes_nothing(converged: Lab) -> None:
    result = run_playbook(BASELINE, converged.inventory, converged.settings)
    assert result.succeeded
    assert result.changed == {}, {h: [c.task for c in r.changes] for h, r in result.changed.items()}


def test_check_mode_on_converged_hosts_plans_no_change(converged: Lab) -> None:
    plan = plan_playbook(BASELINE, converged.inventory, converged.settings)
    assert plan.check_mode and plan.succeeded
    assert plan.plan == {f"h{i}": () for i in range(1, HOSTS + 1)}


def test_plan_shows_drift_with_a_diff_and_changes_nothing(converged: Lab) -> None:
    converged.host("h4").run("echo 'tampered' > /etc/issue.net")
    plan = plan_playbook(BASELINE, converged.inventory, converged.settings, limit="web")
    assert set(plan.hosts) == {"h1", "h2", "h4"}
    assert list(plan.changed) == ["h4"]
    banner = next(c for c in plan.plan["h4"] if c.task == "Banner shown before SSH login")
    assert "-tampered" in banner.diff and "+Example Corp IT" in banner.diff
    assert converged.host("h4").file("/etc/issue.net").content_string == "tampered\n"  # check mode wrote nothing


def test_events_stream_to_the_callback_while_the_run_goes(converged: Lab) -> None:
    seen: list[AnsibleEvent] = []
    result = run_playbook(BASELINE, converged.inventory, converged.settings, limit="h1,h2", on_event=seen.append)
    counters = [e.counter for e in seen]
    assert counters == sorted(counters) and len(counters) == len(set(counters))
    assert seen[0].kind == "playbook_on_start" and seen[-1].kind == "playbook_on_stats"
    per_host_ok = {h: sum(1 for e in seen if e.kind == "runner_on_ok" and e.host == h) for h in ("h1", "h2")}
    assert per_host_ok == {h: result.hosts[h].ok_tasks for h in ("h1", "h2")}


def test_a_failing_observer_does_not_break_the_run(converged: Lab) -> None:
    def broken(event: AnsibleEvent) -> None:
        raise RuntimeError("observer bug")

    assert run_playbook(BASELINE, converged.inventory, converged.settings, limit="h1", on_event=broken).succeeded


def test_service_account_logs_in_with_the_inventory_key(converged: Lab) -> None:
    host = converged.inventory.host("h2")
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    assert host.known_hosts is not None
    client.load_host_keys(str(host.known_hosts))
    client.connect(
        host.address,
        username="itpm-svc",
        key_filename=str(converged.service_key),
        allow_agent=False,
        look_for_keys=False,
        timeout=10,
    )
    try:
        _, stdout, _ = client.exec_command("id -un; pwd")
        assert stdout.read().decode().split() == ["itpm-svc", "/home/itpm-svc"]
    finally:
        client.close()
