"""Project runs end to end through the CLI, on the lab, against a real Prefect server (surroundings: world.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from itpm.log.events import (
    BatchFinished,
    BatchStarted,
    CostBooked,
    HostApplied,
    HostsWaited,
    HostVerified,
    NoticeSent,
    RiskRaised,
    RolledBack,
    RunFinished,
)
from tests.receivers import http_receiver, received_mail, smtp_server

from .conftest import Lab
from .world import HOSTS, World, finished_status


def test_failing_canary_halts_and_is_rolled_back(world: World) -> None:
    world.host_var("h1", marker_value="bad")  # the canary's checks will fail
    with http_receiver() as ops:
        project = world.project(
            "canary",
            canary=1,
            batch_size=2,
            max_fail_percent=50,
            stakeholders=[
                {"name": "Ops", "role": "operations", "wants": ["halts"], "channel": f"webhook:{ops.url}/hook"},
                {"name": "PMO", "role": "pmo", "wants": ["phase_changes"], "channel": f"file:{world.root / 'pmo'}"},
            ],
        )
        world.env["ITPM_WEBHOOK_TOKEN"] = "lab-token"
        done = world.itpm("run", str(project), "--as", "dana")
    assert done.returncode == 1, done.stdout + done.stderr
    message = " ".join(done.stderr.split())
    assert "halted at marker/canary: the canary of step 'marker' failed: h1" in message
    assert "itpm resume" in message and "Traceback" not in message
    (run_id,) = world.log.run_ids()
    finished = [e for e in world.log.events(run_id, kinds=["batch_finished"]) if isinstance(e, BatchFinished)]
    assert [(e.batch, e.verdict, e.failed) for e in finished] == [("marker/canary", "halted", ["h1"])]
    (rolled,) = [e for e in world.log.events(run_id, kinds=["rolled_back"]) if isinstance(e, RolledBack)]
    assert rolled.hosts == ["h1"] and rolled.ok == ["h1"]
    assert world.marker("h1") is None  # rolled back on the host itself
    assert all(world.marker(h) is None and world.stamps(h) == [] for h in HOSTS[1:])  # never touched
    assert finished_status(world, run_id) == "halted"

    # Ops heard of the halt, once, with the reason and what to do; the PMO got a file per phase entered.
    (halt,) = ops.posted
    assert halt.path == "/hook" and halt.headers["Authorization"] == "Bearer lab-token"
    body = json.loads(halt.body)
    assert "the canary of step 'marker' failed" in body["text"] and f"itpm resume {run_id}" in body["text"]
    drops = sorted(p.name for p in (world.root / "pmo").glob("*.md"))
    assert len(drops) == 3 and all("phase_changed" in name for name in drops)  # initiation, planning, execution
    sent = [e for e in world.log.events(run_id, kinds=["notice_sent"]) if isinstance(e, NoticeSent)]
    assert sorted((e.stakeholder, e.about, e.delivered) for e in sent) == [
        ("Ops", "run_halted", True),
        *[("PMO", "phase_changed", True)] * 3,
    ]
    # The risk whose signal the canary showed is logged as materialized; the engineer's time is booked.
    (risk,) = [e for e in world.log.events(run_id, kinds=["risk_raised"]) if isinstance(e, RiskRaised)]
    assert (risk.risk_id, risk.materialized, risk.note) == ("R1", True, "checks failed in marker/canary: h1")
    costs = [e for e in world.log.events(run_id, kinds=["cost_booked"]) if isinstance(e, CostBooked)]
    assert {e.category for e in costs} == {"labour"}  # no host was verified, so no per-host cost
    assert all(e.role == "engineer" and e.amount == round(Decimal(e.hours) * 100, 2) for e in costs)
    assert [e.note for e in costs] == [
        "audit of marker (before the change)",
        "plan of marker",
        "rollout of marker/canary",
    ]


@pytest.mark.parametrize(("bad", "verdict"), [(["h2"], "tolerated"), (["h2", "h3"], "halted")])
def test_max_fail_percent_is_honoured_at_its_boundary(world: World, bad: list[str], verdict: str) -> None:
    for host in bad:
        world.host_var(host, marker_value="bad")
    project = world.project("boundary", batch_size=5, max_fail_percent=20)  # one batch of 5: 1 bad = 20%
    done = world.itpm("run", str(project), "--as", "dana")
    assert done.returncode == 1, done.stdout + done.stderr  # failed hosts either way
    (run_id,) = world.log.run_ids()
    (finished,) = [e for e in world.log.events(run_id, kinds=["batch_finished"]) if isinstance(e, BatchFinished)]
    assert (finished.verdict, finished.failed) == (verdict, bad)
    if verdict == "tolerated":
        assert finished_status(world, run_id) == "completed"
        assert [world.marker(h) for h in HOSTS] == ["ok", "bad", "ok", "ok", "ok"]
    else:
        assert finished_status(world, run_id) == "halted"
        assert [world.marker(h) for h in HOSTS] == [None] * 5  # the whole failed batch rolled back


def test_approval_by_another_identity_through_the_api(world: World) -> None:
    with smtp_server(login=("itpm-mailer", "lab-password")) as mailbox:
        world.env.update(
            ITPM_SMTP_HOST="127.0.0.1",
            ITPM_SMTP_PORT=str(mailbox.port),
            ITPM_SMTP_USER="itpm-mailer",
            ITPM_SMTP_PASSWORD="lab-password",
            ITPM_SMTP_FROM="itpm@example.com",
        )
        cab = {
            "name": "CAB",
            "role": "change board",
            "wants": ["approvals", "completion"],
            "channel": "email:cab@example.com",
        }
        project = world.project("approval", approval=True, stakeholders=[cab])
        run_id = _approve_as_others(world, project)
    mails = [received_mail(envelope) for envelope, _ in mailbox.mails]
    assert [m["To"] for m in mails] == ["cab@example.com"] * 2
    asked, done = (m.get_content() for m in mails)
    assert "approval" in str(mails[0]["Subject"]).lower() and f"itpm approve {run_id} --as <login>" in asked
    assert "Chris Change (change_manager, login chris)" in asked
    assert "completed" in str(mails[1]["Subject"]) and "5 of 5 host-steps verified (100%)" in done

    # Closure: per-host costs for the 5 hosts, the report written, and the PM's screen.
    costs = [e for e in world.log.events(run_id, kinds=["cost_booked"]) if isinstance(e, CostBooked)]
    (hosts,) = [e for e in costs if e.category == "hosts"]
    assert (hosts.hosts, hosts.amount) == (HOSTS, Decimal(50))
    assert (world.root / "state" / "reports" / f"{run_id}.html").is_file()
    shown = world.itpm("status", run_id)
    assert shown.returncode == 0, shown.stderr
    assert "5 of 5 host-steps verified (100%)" in shown.stdout and "Nothing needs attention." in shown.stdout


def _approve_as_others(world: World, project: Path) -> str:
    """Run the project in the background; the requester and an API call as the requester are refused, chris approves."""
    running = world.itpm_background("run", str(project), "--as", "dana")
    try:
        world.wait_for("approval_requested")
        (run_id,) = world.log.run_ids()
        assert world.marker("h1") is None  # nothing changes before the gate

        own = world.itpm("approve", run_id, "--as", "dana")
        assert own.returncode == 2 and "dana requested this run and cannot approve it" in " ".join(own.stderr.split())

        # Straight through the Prefect API, as the UI's form does: the flow itself refuses the requester.
        world.answer_in_ui(run_id, {"approver": "Dana Engineer", "approve": True})
        world.decisions(run_id, count=2)
        approved = world.itpm("approve", run_id, "--as", "chris", "--comment", "window agreed with ops")
        assert approved.returncode == 0, approved.stdout + approved.stderr
        stdout, stderr = running.communicate(timeout=300)
    finally:
        if running.poll() is None:
            os.killpg(running.pid, signal.SIGKILL)
    assert running.returncode == 0, stdout + stderr
    decisions = world.decisions(run_id)
    assert [(d.approver, d.decision) for d in decisions] == [
        ("dana", "refused"),
        ("Dana Engineer", "refused"),
        ("chris", "approved"),
    ]
    assert decisions[2].comment == "window agreed with ops" and decisions[2].waited_s > 0
    assert [world.marker(h) for h in HOSTS] == ["ok"] * 5
    return run_id


def test_sigkill_mid_batch_then_resume_applies_each_host_once(world: World) -> None:
    (world.inventory_dir / "group_vars" / "all" / "marker.yml").write_text(
        "marker_content: ok\nmarker_work_seconds: 4\n"
    )
    project = world.project("resume", canary=1, batch_size=2)
    running = world.itpm_background("run", str(project), "--as", "dana")
    world.wait_for("batch_started", batch="marker/batch 1")
    time.sleep(2)  # inside the batch's apply
    os.killpg(running.pid, signal.SIGKILL)
    running.wait(30)
    killed_at = time.time()
    (run_id,) = world.log.run_ids()
    before = world.log.events(run_id)
    assert not any(isinstance(e, RunFinished) for e in before)

    resumed = world.itpm("resume", run_id)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    events = world.log.events(run_id)
    assert events[: len(before)] == before  # nothing logged before the kill was lost or changed
    verified = [e.host or "" for e in events if isinstance(e, HostVerified) and e.passed]
    assert sorted(verified) == HOSTS  # every host verified exactly once
    reapplied = {e.host for e in events[len(before) :] if isinstance(e, HostApplied)}
    assert reapplied == {"h2", "h3", "h4", "h5"}  # the canary, verified before the kill, was not applied again
    assert [world.marker(h) for h in HOSTS] == ["ok"] * 5
    assert len([s for s in world.stamps("h1") if s[1] == "start"]) == 1
    assert all(at < killed_at for _, _, at in world.stamps("h1"))
    assert finished_status(world, run_id) == "completed"


@pytest.mark.reliability("concurrent runs over overlapping hosts")  # 5 runs: tests/lab/test_contention.py
def test_two_runs_over_overlapping_hosts_never_interleave_on_a_host(
    world: World, record_property: Callable[[str, object], None]
) -> None:
    (world.inventory_dir / "group_vars" / "all" / "marker.yml").write_text(
        "marker_content: ok\nmarker_work_seconds: 3\n"
    )
    first = world.project("first", hosts="h1:h2:h3")
    second = world.project("second", hosts="h2:h3:h4")
    runs = [world.itpm_background("run", str(p), "--as", "dana") for p in (first, second)]
    for running in runs:
        stdout, stderr = running.communicate(timeout=600)
        assert running.returncode == 0, stdout + stderr
    for host in ("h2", "h3"):
        spans: dict[str, list[float]] = {}
        for run, _, at in world.stamps(host):
            spans.setdefault(run, []).append(at)
        (_, a_end), (b_start, _) = sorted((min(t), max(t)) for t in spans.values())
        assert len(spans) == 2 and a_end < b_start, f"runs overlapped on {host}: {spans}"
    waited = [e for e in world.log.events(kinds=["hosts_waited"]) if isinstance(e, HostsWaited)]
    assert waited and set(waited[0].holders) <= {"h2", "h3"}
    record_property(
        "observed",
        "2 runs over h1:h2:h3 and h2:h3:h4 exit 0; one waited for the other's locks; on h2 and h3 the "
        "on-host stamp spans of the two runs never overlap",
    )


def _upper_snapshot(lab: Lab) -> dict[str, tuple[int, float]]:
    """Every file of every host's writable layer, with size and mtime (login records and tmpfs aside)."""
    ignored = ("var/log/", "tmp/", "run/")
    snapshot = {}
    for host in HOSTS:
        upper = lab.settings.lab_dir / lab.name / "hosts" / host / "upper"
        for path in upper.rglob("*"):
            relative = str(path.relative_to(upper))
            if not relative.startswith(ignored) and not path.is_dir():
                stat = path.lstat()
                snapshot[f"{host}:{relative}"] = (stat.st_size, stat.st_mtime)
    return snapshot


def test_dry_run_changes_no_file_on_any_host(world: World) -> None:
    project = world.project("dry", canary=1, approval=True)
    before = _upper_snapshot(world.lab)
    done = world.itpm("run", str(project), "--dry-run", "--as", "dana")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _upper_snapshot(world.lab) == before
    (run_id,) = world.log.run_ids()
    kinds = [e.kind for e in world.log.events(run_id)]
    assert "step_audited" in kinds and "step_planned" in kinds
    assert not any(k in kinds for k in ("batch_started", "approval_requested"))
    assert finished_status(world, run_id) == "dry_run"
    assert not any(isinstance(e, BatchStarted) for e in world.log.events(run_id))


_READ_RUN = """
import json, sys
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey, FlowRunFilter, FlowRunFilterTags
from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterFlowRunId
from prefect.client.schemas.sorting import ArtifactSort
run_id, project = sys.argv[1], sys.argv[2]
with get_client(sync_client=True) as client:
    runs = FlowRunFilter(tags=FlowRunFilterTags(all_=["itpm-run:" + run_id]))
    (flow_run,) = client.read_flow_runs(flow_run_filter=runs)
    tasks = client.read_task_runs(task_run_filter=TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(any_=[flow_run.id])))
    artifacts = client.read_artifacts(  # each update is a new version of the key: newest first, keep the first
        artifact_filter=ArtifactFilter(key=ArtifactFilterKey(like_="itpm-" + project)), sort=ArtifactSort.CREATED_DESC
    )
print(json.dumps({
    "name": flow_run.name, "tags": sorted(flow_run.tags), "state": flow_run.state_name,
    "tasks": sorted(t.name for t in tasks),
    "artifacts": {a.key: a.data for a in reversed(artifacts) if a.key},
}))
"""


def test_the_prefect_ui_shows_the_run_as_a_pm_needs_it(world: World) -> None:
    world.host_var("h2", marker_value="bad")
    project = world.project("ui", canary=1, batch_size=2)
    done = world.itpm("run", str(project), "--as", "dana")
    assert done.returncode == 1, done.stdout + done.stderr  # batch 1 (h2, h3) halts: h2 fails at 0%
    (run_id,) = world.log.run_ids()
    read = subprocess.run(
        [sys.executable, "-c", _READ_RUN, run_id, "ui"], env=world.env, capture_output=True, text=True, check=True
    )
    seen = json.loads(read.stdout)
    assert seen["name"] == f"ui {run_id}" and seen["state"] == "Failed"
    assert {"project:ui", "kind:compliance", "env:lab", f"itpm-run:{run_id}"} <= set(seen["tags"])
    # One task run per step stage and per batch, never per host.
    assert seen["tasks"] == ["audit marker (before)", "marker/batch 1", "marker/canary", "plan marker"]
    artifacts = seen["artifacts"]
    assert artifacts["itpm-ui-progress"] == 20.0  # 1 of 5 host-steps verified (the canary)
    rows = {row["host"]: row for row in json.loads(artifacts["itpm-ui-hosts"])}
    assert rows["h1"]["marker"] == "verified" and rows["h2"]["marker"] == "rolled back"
    assert rows["h4"]["marker"] == "pending" and "/etc/itpm-marker holds 'bad'" in rows["h2"]["needs attention"]
    status = artifacts["itpm-ui-status"]
    assert "**State**: halted" in status and "1 of 5 host-steps verified (20%)" in status
    assert "- Halted: 1 of 2 hosts of marker/batch 1 failed" in status and f"itpm resume {run_id}" in status
    assert "## Budget" in status and "EUR" in status
    step = {row["host"]: row["state"] for row in json.loads(artifacts["itpm-ui-step-marker"])}
    assert step == {"h1": "verified", "h2": "rolled back", "h3": "rolled back", "h4": "pending", "h5": "pending"}
    retro, ahead = artifacts["itpm-ui-retrospective"], artifacts["itpm-ui-next-steps"]
    assert "## What failed and why" in retro and "check test_marker" in retro
    assert "Fix the cause of the halt" in ahead and f"`itpm resume {run_id}`" in ahead
    for text in (status, retro, ahead):
        assert "HostStepState" not in text and "None" not in text and "Decimal(" not in text
