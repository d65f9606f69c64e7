"""An evidence archive's run for unit tests: three gated steps with signed answers, a halt and a rollback.

The run (fake ports, real SQLite log) has three gated steps: at the first, the requester's own signed approval is
refused, then chris approves, signed; at the second, erin approves, signed; at the third, chris rejects, signed.
The first step's second batch fails a check, halts and is rolled back. ``archive`` is its evidence archive;
the helpers extract one and run the auditor's own route on it (verify_chain.py, the ssh-keygen commands).
"""

from __future__ import annotations

import subprocess
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from itpm.engine.approvals import Answer
from itpm.evidence import build_evidence
from itpm.evidence.members import VERIFY_MD
from itpm.log.events import RunHalted
from itpm.models.statuses import Decision, RunEnd
from itpm.project_run import ProjectRun
from itpm.signing import ssh_keygen
from itpm.signing.instructions import statement_for
from itpm.signing.statement import APPROVAL_NAMESPACE, bundle
from tests.unit.engine_runs import ROLLBACK, Engine, drive, project, step
from tests.unit.fake_ports import FakeVerifier, Outcome

__all__ = [
    "BUILT",
    "RISK",
    "RUN",
    "archive",
    "extract",
    "logged_run",
    "script",
    "shell",
    "signed",
    "signing_key",
    "ssh_keygen_commands",
]

RUN = "engine-test-1"
BUILT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
RISK = {
    "id": "R1",
    "title": "The patch breaks SSH",
    "likelihood": "low",
    "impact": "high",
    "mitigation": "canary first",
    "owner": "dana",
}


def signing_key(directory: Path, who: str) -> tuple[Path, str]:
    """Return a fresh ed25519 key of ``who``: its private key file and its public line."""
    private = directory / f"id_{who}"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", who, "-f", str(private)], check=True)
    return private, private.with_suffix(".pub").read_text().strip()


def signed(run: ProjectRun, step_name: str, who: str, private: Path, comment: str, *, approve: bool = True) -> Answer:
    """Return ``who``'s answer to the step's open gate, signed with the key ``private`` as the gate's page says."""
    request = run.state.gates.requests[step_name]
    statement = statement_for(request, project=run.project.name, signer=who, approve=approve, comment=comment)
    signature = ssh_keygen.sign(statement.text().encode(), private, APPROVAL_NAMESPACE)
    return Answer(who, approve, comment, bundle(statement, signature))


@pytest.fixture
def logged_run(engine: Engine, tmp_path: Path) -> Engine:
    """The run of the module's docstring, in ``engine``'s log."""
    keys = {who: signing_key(tmp_path, who) for who in ("dana", "chris", "erin")}
    team = [
        {"name": "Dana Engineer", "role": "engineer", "user": "dana", "signing_key": keys["dana"][1]},
        {"name": "Chris Change", "role": "change_manager", "user": "chris", "signing_key": keys["chris"][1]},
        {"name": "Erin Engineer", "role": "engineer", "user": "erin", "signing_key": keys["erin"][1]},
    ]
    first = step("patch", rollback=str(ROLLBACK), strategy={"approval": {"roles": ["change_manager"]}})
    second = step("tune", strategy={"approval": {"roles": ["engineer"]}})
    third = step("later", strategy={"approval": {"roles": ["change_manager"]}})
    the_project = project(first, second, third, team=team, risks=[RISK])
    run = engine.open(the_project, verifier=FakeVerifier({"h3": Outcome.CHECK_FAILED}))
    run.start()
    patch, tune, later = run.project.steps
    for each in (patch, tune, later):
        run.audit(each, "before")
        run.plan(each)
    run.request_approval(patch)
    refused = run.decide_approval(patch, signed(run, "patch", "dana", keys["dana"][0], "my own change"))
    approved = run.decide_approval(patch, signed(run, "patch", "chris", keys["chris"][0], "in the window"))
    run.request_approval(tune)
    tuned = run.decide_approval(tune, signed(run, "tune", "erin", keys["erin"][0], "ok"))
    run.request_approval(later)
    no = run.decide_approval(later, signed(run, "later", "chris", keys["chris"][0], "not now", approve=False))
    decisions = (refused.decision, approved.decision, tuned.decision, no.decision)
    assert decisions == (Decision.REFUSED, Decision.APPROVED, Decision.APPROVED, Decision.REJECTED), refused.reason
    assert approved.signed and tuned.signed and no.signed
    drive(run, patch)  # the canary passes, batch 1 fails on h3: halted and rolled back
    run.audit(patch, "after")
    run.finish(RunEnd.HALTED)
    assert any(isinstance(e, RunHalted) for e in engine.logged())
    return engine


@pytest.fixture
def archive(logged_run: Engine, tmp_path: Path) -> Path:
    """The run's evidence archive."""
    return build_evidence(logged_run.log, RUN, tmp_path / "out", built_at=BUILT)


def extract(path: Path, into: Path) -> Path:
    """Extract the archive at ``path`` under ``into``; return its directory."""
    with tarfile.open(path) as packed:
        packed.extractall(into, filter="data")
    [directory] = into.iterdir()
    return directory


def script(directory: Path) -> subprocess.CompletedProcess[str]:
    """Run the archive's own verify_chain.py with the system's python3, as an auditor would."""
    return subprocess.run(
        ["python3", "verify_chain.py"], cwd=directory, capture_output=True, text=True, timeout=60, check=False
    )


def ssh_keygen_commands(directory: Path) -> list[str]:
    """Return the ssh-keygen commands VERIFY.md gives, as written."""
    text = (directory / VERIFY_MD).read_text()
    return [line.strip() for line in text.splitlines() if line.strip().startswith("ssh-keygen -Y verify")]


def shell(directory: Path, command: str) -> subprocess.CompletedProcess[str]:
    """Run ``command`` with bash in ``directory``, as written."""
    return subprocess.run(
        ["bash", "-c", command], cwd=directory, capture_output=True, text=True, timeout=60, check=False
    )
