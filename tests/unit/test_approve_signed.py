"""How an approver signs: by hand, as the gate's page says, or with ``itpm approve --key`` (``--sign-only``).

Real keys and ``ssh-keygen``; the run is the engine's on fakes and a real SQLite log, handed to the command in
place of the one it would reopen from the project file.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

from itpm.cli.approvals import _signed
from itpm.engine.approvals import Answer
from itpm.models.statuses import Decision
from itpm.project_run import ProjectRun
from itpm.signing.instructions import PLACEHOLDER, how_to_sign
from tests.unit.engine_runs import Engine
from tests.unit.signed_gates import Gate, open_gate
from tests.unit.ssh_keys import Keys
from tests.unit.test_hostile_input import run_cli


def _by_hand(page: str) -> list[str]:
    """Return the shell lines of the page's "by hand" block, as an approver copies them."""
    block = page.split("or by hand", 1)[1].split("\n\n")[1]
    return [line.removeprefix("    ") for line in block.splitlines()]


def test_the_gate_pages_by_hand_instructions_make_an_answer_that_counts(
    engine: Engine, ssh_keys: Keys, tmp_path: Path
) -> None:
    gate = open_gate(engine, ssh_keys)
    page = how_to_sign(gate.request, project=gate.run.project.name)
    assert page.startswith("Signed answers are required.")
    lines = _by_hand(page)
    assert lines[0] == "cat > statement <<'EOF'" and lines[-1] == "cat statement statement.sig"
    # The approver puts in their login and their key, and runs the lines: ssh-keygen alone, no itpm.
    script = "\n".join(lines).replace(PLACEHOLDER, "sam").replace("~/.ssh/id_ed25519", str(ssh_keys.private("sam")))
    done = subprocess.run(["bash", "-e"], input=script, cwd=tmp_path, capture_output=True, text=True, check=True)
    decided = gate.run.decide_approval(gate.step, Answer("sam", True, "", done.stdout))
    assert (decided.decision, decided.signed, decided.approver) == (Decision.APPROVED, True, "sam")


def test_itpm_approve_signs_the_statement_of_the_open_gate(engine: Engine, ssh_keys: Keys) -> None:
    gate = open_gate(engine, ssh_keys)
    signed = _signed(
        gate.run, "s", "Chris Change", approve=False, comment="after the freeze", key=ssh_keys.private("chris")
    )
    assert signed.startswith(gate.statement("chris", approve=False, comment="after the freeze").text())
    decided = gate.run.decide_approval(gate.step, Answer("Chris Change", False, "after the freeze", signed))
    assert (decided.decision, decided.approver, decided.signed) == (Decision.REJECTED, "chris", True)


@contextmanager
def _reopening(engine: Engine, gate: Gate) -> Iterator[None]:
    """Make ``itpm approve`` work on the gate's run instead of reopening it from a project file."""
    with (
        mock.patch("itpm.cli.approvals.load_settings", return_value=engine.settings),
        mock.patch.object(ProjectRun, "reopen", return_value=gate.run),
    ):
        yield


def test_itpm_approve_sign_only_prints_a_bundle_the_form_takes(engine: Engine, ssh_keys: Keys) -> None:
    gate = open_gate(engine, ssh_keys)
    key = str(ssh_keys.private("chris"))
    with _reopening(engine, gate):
        printed = run_cli("approve", gate.run.run_id, "--as", "chris", "--key", key, "--sign-only", "--comment", "ok")
    assert printed.code == 0, printed.output
    assert gate.decisions() == []  # nothing was sent
    decided = gate.run.decide_approval(gate.step, Answer("chris", True, "", printed.output))
    assert (decided.decision, decided.comment, decided.signed) == (Decision.APPROVED, "ok", True)


def test_itpm_approve_refuses_and_logs_a_signature_that_does_not_count(engine: Engine, ssh_keys: Keys) -> None:
    gate = open_gate(engine, ssh_keys)
    with _reopening(engine, gate):
        # Erin signs with her own key: good, but she has no role at this gate. Then she tries chris's key, then none.
        refused = [
            run_cli("approve", gate.run.run_id, "--as", "erin", "--key", str(ssh_keys.private(who)))
            for who in ("erin", "chris")
        ]
        refused.append(run_cli("approve", gate.run.run_id, "--as", "erin"))
    assert [r.code for r in refused] == [2, 2, 2]
    assert "erin has role engineer; step 's' needs change_manager or security" in refused[0].output
    assert "says it is signed by erin, but key SHA256:" in refused[1].output
    assert "unsigned: project engine-test requires signed approvals" in refused[2].output
    assert [(d.approver, d.decision) for d in gate.decisions()] == [("erin", Decision.REFUSED)] * 3
    assert gate.run.approval_needed(gate.step) and gate.applied() == []
