"""Signed approvals on the lab, through the CLI and the Prefect API the UI's form uses (surroundings: world.py).

One run of a project that requires signatures: forged answers of eight kinds are refused and logged while the
hosts stay untouched; a good signature opens the gate; the run is stopped after its canary, the change it would
make is edited, and the resumed run's gate asks again because the approval no longer covers the plan; the old
signature, replayed, is refused; another change manager signs, and the run completes with the edited change.
The rules behind each refusal are proved case by case in tests/unit/test_signed_approvals.py.
"""

from __future__ import annotations

import signal
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from itpm.log.events import ApprovalRequested, BatchStarted, RunFinished
from itpm.signing.ssh_keygen import sign
from itpm.signing.statement import APPROVAL_NAMESPACE, Statement, bundle, parse_statement, split_bundle
from tests.unit.evidence_runs import extract, script, shell, ssh_keygen_commands

from .world import HOSTS, World

PEOPLE = {"dana": "engineer", "chris": "change_manager", "erin": "change_manager"}
FORGERIES = 8  # kinds of forged answer tried at the first opening of the gate


def _keys(root: Path) -> dict[str, Path]:
    """Return an ed25519 signing key for each of the team and for mallory, who is not on it."""
    keys = {}
    for who in [*PEOPLE, "mallory"]:
        key = root / "keys" / who
        key.parent.mkdir(exist_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", who, "-f", str(key)], check=True)
        keys[who] = key
    return keys


def _team(keys: dict[str, Path]) -> list[dict[str, Any]]:
    return [
        {"name": who.title(), "role": role, "user": who, "signing_key": keys[who].with_suffix(".pub").read_text()}
        for who, role in PEOPLE.items()
    ]


def _signed(statement: Statement, key: Path) -> str:
    return bundle(statement, sign(statement.text().encode(), key, APPROVAL_NAMESPACE))


def _refused(world: World, run_id: str, count: int) -> str:
    """Return the reason of the run's ``count``-th answer, which must be a refusal."""
    decided = world.decisions(run_id, count=count)[count - 1]
    assert decided.decision == "refused", decided
    return decided.reason


@pytest.mark.reliability("approval forgery")
def test_only_a_good_signature_over_the_plan_opens_the_gate(world: World, record_property: Any) -> None:
    keys = _keys(world.root)
    project = world.project(
        "signed",
        approval=True,
        canary=1,
        batch_size=2,
        pause_seconds=30,  # the run is stopped in this pause, after its canary
        team=_team(keys),
        sections={"signing": {"required": True}},
    )
    running = world.itpm_background("run", str(project), "--as", "dana")
    request = world.wait_for("approval_requested")
    assert isinstance(request, ApprovalRequested) and request.signatures_required
    run_id = request.run_id
    answered = _forge(world, request, keys)
    assert [world.marker(h) for h in HOSTS] == [None] * 5  # nothing changed while the gate was forged at
    assert not world.log.events(run_id, kinds=["batch_started"])

    approved = world.itpm("approve", run_id, "--as", "chris", "--key", str(keys["chris"]), "--comment", "reviewed")
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert "signed with SHA256:" in " ".join(approved.stdout.split())
    first = world.decisions(run_id, count=answered + 1)[answered]
    assert (first.decision, first.approver, first.signed, first.plan_digest) == (
        "approved",
        "chris",
        True,
        request.plan_digest,
    )

    # Stopped in the pause after the canary; the change is edited; the resumed run plans again.
    world.wait_for("batch_finished", batch="marker/canary")
    running.send_signal(signal.SIGTERM)
    assert running.wait(120) == 128 + signal.SIGTERM
    (world.inventory_dir / "group_vars" / "all" / "marker.yml").write_text("marker_content: ok-v2\n")
    resumed = world.itpm_background("resume", run_id)
    requests = _requests(world, run_id, 2)
    again = requests[-1]
    assert again.gate == "marker#2" and again.plan_digest != request.plan_digest
    assert "the approval by chris" in again.lapsed and "'Marker file' differently" in again.lapsed
    assert "h1" not in again.lapsed  # the canary is done: the edit does not concern it

    world.answer_in_ui(run_id, {"approver": "chris", "approve": True, "signature": first.signature})  # a replay
    answered += 2
    assert "signed for gate opening marker#1" in _refused(world, run_id, answered)
    assert [e for e in world.log.events(run_id, kinds=["batch_started"]) if isinstance(e, BatchStarted)][-1].batch == (
        "marker/canary"
    )
    second = world.itpm("approve", run_id, "--as", "erin", "--key", str(keys["erin"]))
    assert second.returncode == 0, second.stdout + second.stderr
    assert resumed.wait(300) == 0, resumed.communicate()
    ends = [e.status for e in world.log.events(run_id, kinds=["run_finished"]) if isinstance(e, RunFinished)]
    assert ends == ["interrupted", "completed"]
    assert [world.marker(h) for h in HOSTS] == ["ok", "ok-v2", "ok-v2", "ok-v2", "ok-v2"]
    statement, _ = split_bundle(world.decisions(run_id)[-1].signature)
    assert parse_statement(statement).plan == again.plan_digest
    _evidence_verifies_offline_until_touched(world, run_id)
    kinds = FORGERIES + 1  # and the replay
    record_property("cases", kinds)
    record_property(
        "observed",
        f"{kinds} kinds of forged answer refused and logged, nothing changed on any host while the gate was "
        "forged at; a good signature opened it; an edited change lapsed the approval on the resumed run, which "
        "asked again naming the hosts; another change manager's signature over the new plan completed it",
    )


def _forge(world: World, request: ApprovalRequested, keys: dict[str, Path]) -> int:
    """Answer the open gate with forgeries of eight kinds, each refused and logged; return how many answers."""
    run_id = request.run_id
    good = Statement("approval", run_id, "signed", "marker", request.gate, request.plan_digest, "approve", "chris")

    # Forgeries, through the CLI (judged and logged by the CLI) and the UI's API (judged and logged by the run).
    cli: dict[str, tuple[tuple[str, ...], str]] = {
        "unsigned, from the command line": (("--as", "chris"), "unsigned"),
        "a key not in the allowed signers": (("--as", "chris", "--key", str(keys["mallory"])), "not in the allowed"),
        "another team member's key": (("--as", "chris", "--key", str(keys["erin"])), "is erin's"),
        "the requester's own key": (("--as", "dana", "--key", str(keys["dana"])), "who requested this run"),
    }
    altered = _signed(good, keys["chris"]).replace('comment: ""', 'comment: "and the firewall too"')
    ui: dict[str, tuple[dict[str, Any], str]] = {
        "the form without a signature": ({"approver": "chris", "approve": True}, "unsigned"),
        "a signature over another run": (
            {"approver": "chris", "signature": _signed(replace(good, run="r-other"), keys["chris"])},
            "signed for run r-other",
        ),
        "a signature over another plan": (
            {"approver": "chris", "signature": _signed(replace(good, plan="sha256:0"), keys["chris"])},
            "signed for another plan",
        ),
        "a statement changed after signing": ({"approver": "chris", "signature": altered}, "does not match"),
    }
    answered = 0
    for args, expected in cli.values():
        attempt = world.itpm("approve", run_id, *args)
        answered += 1
        assert attempt.returncode == 2 and expected in " ".join(attempt.stderr.split()), attempt.stderr
        assert "Traceback" not in attempt.stderr
        assert expected in _refused(world, run_id, answered)
    for answer, expected in ui.values():
        world.answer_in_ui(run_id, {"approve": True, **answer})
        answered += 1
        assert expected in _refused(world, run_id, answered)
    assert answered == FORGERIES
    return answered


def _evidence_verifies_offline_until_touched(world: World, run_id: str) -> None:
    """The run's evidence archive verifies with itpm, ssh-keygen and python3; a byte changed, it does not."""
    archive = world.root / "evidence.tar.gz"
    built = world.itpm("evidence", run_id, "--out", str(archive))
    assert built.returncode == 0, built.stdout + built.stderr
    assert world.itpm("evidence", "verify", str(archive)).returncode == 0
    directory = extract(archive, world.root / "unpacked")
    assert script(directory).returncode == 0
    signed = {who: [c for c in ssh_keygen_commands(directory) if f" -I {who} " in c] for who in ("chris", "erin")}
    good = {who: [c for c in commands if shell(directory, c).returncode == 0] for who, commands in signed.items()}
    assert good["chris"] and good["erin"], good  # the two approvals that opened the gate verify as written

    statement = directory / good["erin"][0].rsplit("< ", 1)[1]
    statement.write_bytes(statement.read_bytes().replace(b"decision: approve", b"decision: Approve"))
    assert shell(directory, good["erin"][0]).returncode != 0
    events = directory / "events.jsonl"
    lines = events.read_bytes().splitlines()
    lines[3] = lines[3].replace(b'"project":"signed"', b'"project":"signeD"')
    events.write_bytes(b"\n".join(lines) + b"\n")
    assert script(directory).returncode != 0
    touched = world.root / "touched.tar.gz"
    subprocess.run(["tar", "czf", str(touched), "-C", str(directory.parent), directory.name], check=True)
    assert world.itpm("evidence", "verify", str(touched)).returncode == 1


def _requests(world: World, run_id: str, count: int, timeout: float = 180) -> list[ApprovalRequested]:
    """Return the run's gate openings once there are ``count`` of them."""
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in world.log.events(run_id, kinds=["approval_requested"]) if isinstance(e, ApprovalRequested)]
        if len(found) >= count or time.monotonic() > deadline:
            assert len(found) >= count, f"{len(found)} gate openings of run {run_id} in {timeout} s"
            return found
        time.sleep(0.3)


def test_an_emergency_change_skips_its_gate_and_stays_flagged_until_a_signed_review(world: World) -> None:
    keys = _keys(world.root)
    project = world.project("urgent", approval=True, team=_team(keys), sections={"signing": {"required": True}})
    done = world.itpm("run", str(project), "--as", "dana", "--emergency", "INC-4711: the marker is read by payroll")
    assert done.returncode == 0, done.stdout + done.stderr
    (run_id,) = world.log.run_ids()
    assert not world.log.events(run_id, kinds=["approval_requested"])  # nobody was waited for
    assert [e.kind for e in world.log.events(run_id, kinds=["emergency_declared", "gate_skipped"])] == [
        "emergency_declared",
        "gate_skipped",
    ]
    assert [world.marker(h) for h in HOSTS] == ["ok"] * 5
    flagged = " ".join(world.itpm("status", run_id).stdout.split())
    assert "EMERGENCY CHANGE" in flagged and "review pending" in flagged and "INC-4711" in flagged

    unsigned = world.itpm("review", run_id, "--as", "chris", "--comment", "looked fine")
    assert unsigned.returncode == 2 and "unsigned" in " ".join(unsigned.stderr.split()), unsigned.stderr
    own = world.itpm("review", run_id, "--as", "dana", "--key", str(keys["dana"]))
    assert own.returncode == 2 and "requested this run" in " ".join(own.stderr.split()), own.stderr
    reviewed = world.itpm("review", run_id, "--as", "chris", "--key", str(keys["chris"]), "--comment", "justified")
    assert reviewed.returncode == 0, reviewed.stdout + reviewed.stderr
    cleared = " ".join(world.itpm("status", run_id).stdout.split())
    assert "EMERGENCY CHANGE" not in cleared and "reviewed by chris" in cleared and "signed" in cleared
