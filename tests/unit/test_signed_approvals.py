"""Signed approvals at a gate, with real SSH keys and signatures, the engine on fakes and a real SQLite log.

Every forgery below is answered to an open gate of a project that requires signatures and must be logged as
refused, for its reason, leaving the gate open and nothing applied: the forged answer is made as an attacker
holding what the case says would make it (another person's key, an old bundle from the log, a bundle edited
after signing, ...). Then what must work: a good signed approval or rejection, a key held in ssh-agent, unsigned
answers in the lab. Lapses and second approvals are in test_gate_book.py, signing by hand or with itpm approve in
test_approve_signed.py.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from itpm.engine.approvals import Answer
from itpm.models.statuses import Decision
from itpm.signing.ssh_keygen import SigningFailed, sign
from itpm.signing.sshsig import BEGIN, END
from itpm.signing.statement import APPROVAL_NAMESPACE, bundle, plan_digest
from tests.unit.engine_runs import Engine
from tests.unit.signed_gates import Gate, needing_approvals, open_gate, signed_project
from tests.unit.ssh_keys import Keys

ED25519_ORDER = 2**252 + 27742317777372353535851937790883648493  # L: [S + L]B == [S]B


def _armor(data: bytes, width: int) -> str:
    body = base64.b64encode(data).decode()
    return "\n".join([BEGIN, *(body[i : i + width] for i in range(0, len(body), width)), END]) + "\n"


def _signature_bytes(signed: str) -> tuple[str, bytes]:
    """Return the statement of a bundle and its signature's decoded SSHSIG bytes."""
    statement, armored = signed.split(BEGIN)
    return statement, base64.b64decode("".join(armored.replace(END, "").split()))


def _rewrapped(signed: str) -> str:
    """Return the bundle with its signature's base64 on one line: other text, the very same signature."""
    statement, data = _signature_bytes(signed)
    return statement + _armor(data, width=10_000)


def _malleated(signed: str) -> str:
    """Return the bundle with the Ed25519 signature's S replaced by S + L: other bytes that ssh-keygen accepts."""
    statement, data = _signature_bytes(signed)
    s = int.from_bytes(data[-32:], "little") + ED25519_ORDER
    assert s < 2**253  # ssh-keygen refuses only an S with any of its top three bits set
    return statement + _armor(data[:-32] + s.to_bytes(32, "little"), width=70)


def _corrupted(signed: str) -> str:
    """Return the bundle with one bit of the signature proper flipped (still well-formed SSHSIG)."""
    statement, data = _signature_bytes(signed)
    return statement + _armor(data[:-5] + bytes([data[-5] ^ 1]) + data[-4:], width=70)


# -- the forgeries ---------------------------------------------------------------------------------------------


def _another_run(gate: Gate) -> Answer:
    other = open_gate(gate.engine, gate.keys, gate.run.project, run_id="engine-test-2")
    return Answer("chris", True, "", other.signed("chris"))


def _earlier_opening(gate: Gate) -> Answer:
    earlier = gate.signed("chris")
    gate.run.request_approval(gate.step)  # opened again (its flow restarted) before chris's answer arrived
    return Answer("chris", True, "", earlier)


def _replayed(transform: Callable[[str], str]) -> Callable[[Gate], Answer]:
    """Chris's approval, accepted as the first of two, sent again (``transform``ed) as if it were the second."""

    def forge(gate: Gate) -> Answer:
        return Answer("chris", True, "", transform(gate.approve(comment="first of two")))

    return forge


def _replayed_at_a_later_opening(gate: Gate) -> Answer:
    accepted = gate.approve()
    gate.replan(h3=["Banner shown before SSH login", "Restart sshd"])  # the plan changed: the approval lapsed
    gate.run.request_approval(gate.step)
    return Answer("chris", True, "", accepted)


def _altered(old: str, new: str, **statement: Any) -> Callable[[Gate], Answer]:
    """Chris's good bundle with ``old`` replaced by ``new`` in its statement, the signature kept."""

    def forge(gate: Gate) -> Answer:
        signed = gate.signed("chris", **statement)
        assert old in signed
        return Answer("chris", True, "", signed.replace(old, new, 1))

    return forge


def _truncated(gate: Gate) -> Answer:
    lines = gate.signed("chris").splitlines()
    begin = lines.index(BEGIN)
    return Answer("chris", True, "", "\n".join([*lines[: begin + 2], END]) + "\n")  # the first line of the body


def _another_plan(gate: Gate) -> Answer:
    plan = gate.run.state.gates.plans[gate.step.name].changes
    return Answer("chris", True, "", gate.signed("chris", plan=plan_digest({**plan, "h2": []})))


@dataclass(frozen=True)
class Forgery:
    """A forged answer made at the open gate, and a fragment its refusal must hold."""

    forge: Callable[[Gate], Answer]
    reason: str | tuple[str, ...]  # a fragment of the refusal, or fragments one of which it holds
    requester: str = "dana"
    needed: int = 1  # approvals the gate needs
    project: dict[str, Any] = field(default_factory=dict)  # changes to signed_project's arguments


def _signed(signer: str, *, key: str = "", claim: str = "", **statement: Any) -> Callable[[Gate], Answer]:
    """An answer claiming ``claim`` (``signer``) with ``signer``'s statement signed by ``key`` (``signer``'s)."""
    return lambda gate: Answer(claim or signer, True, "", gate.signed(signer, key=key, **statement))


UNSIGNED = "unsigned: project engine-test requires signed approvals"
FORGERIES = [
    # What the Prefect UI's form sends when the signature field is left empty.
    pytest.param(Forgery(lambda g: Answer("chris", True, "looks fine"), UNSIGNED), id="unsigned outside the lab"),
    pytest.param(
        Forgery(
            lambda g: Answer("chris", True), UNSIGNED, project={"environment": "lab", "signing": {"required": True}}
        ),
        id="unsigned in a lab project that requires signatures",
    ),
    pytest.param(Forgery(lambda g: Answer("chris", True, "", " \r\n "), UNSIGNED), id="a blank signature"),
    pytest.param(Forgery(_signed("chris", key="mallory"), "which is not in the allowed signers"), id="unknown key"),
    pytest.param(
        Forgery(_signed("chris", key="erin"), "says it is signed by chris, but key SHA256:"),
        id="key of another principal",
    ),
    pytest.param(
        Forgery(_signed("casey", claim="chris"), "the answer claims chris, but casey signed it"),
        id="claimed approver is not the signer",
    ),
    pytest.param(
        Forgery(_signed("dana"), "signed with the key of dana, who requested this run"), id="the requester's own key"
    ),
    pytest.param(
        Forgery(_signed("chris"), "signed with the key of chris, who requested this run", requester="chris"),
        id="the requester's own key, in a gate role",
    ),
    pytest.param(Forgery(_another_run, "signed for run engine-test-2, not this run (engine-test-1)"), id="another run"),
    pytest.param(
        Forgery(_signed("chris", project="other-rollout"), "signed for project other-rollout, not engine-test"),
        id="another project",
    ),
    pytest.param(Forgery(_signed("chris", step="t", gate="t#1"), "signed for step t, not s"), id="another step"),
    pytest.param(Forgery(_another_plan, "signed for another plan (sha256:"), id="another plan"),
    pytest.param(
        Forgery(_earlier_opening, "signed for gate opening s#1, not the open one (s#2)"), id="an earlier opening"
    ),
    pytest.param(Forgery(_replayed(lambda signed: signed), "replayed", needed=2), id="replayed as the second approval"),
    pytest.param(
        Forgery(_replayed(_rewrapped), "replayed", needed=2), id="replayed with its armor wrapped differently"
    ),
    pytest.param(
        # OpenSSH 9 takes S + L (the replay check must catch it); an OpenSSH that checks S < L refuses it outright.
        Forgery(_replayed(_malleated), ("replayed", "does not match the statement"), needed=2),
        id="replayed with a malleated signature",
    ),
    pytest.param(
        Forgery(_replayed_at_a_later_opening, "signed for gate opening s#1, not the open one (s#2)"),
        id="replayed at a later opening",
    ),
    pytest.param(
        Forgery(_altered('"h1 only"', '"all hosts"', comment="h1 only"), "does not match the statement"),
        id="comment altered after signing",
    ),
    pytest.param(
        Forgery(_altered("decision: reject", "decision: approve", approve=False), "does not match the statement"),
        id="decision altered after signing",
    ),
    pytest.param(
        Forgery(
            lambda g: Answer("chris", True, "", g.sign(g.statement("chris"), "chris", namespace="git")),
            "signed for namespace 'git', not 'itpm-approval'",
        ),
        id="wrong namespace",
    ),
    pytest.param(Forgery(lambda g: Answer("chris", True, "", "LGTM -- chris"), "not a signed approval"), id="garbage"),
    pytest.param(Forgery(_truncated, "not a signed approval"), id="truncated signature"),
    pytest.param(
        Forgery(lambda g: Answer("chris", True, "", g.statement("chris").text()), "not a signed approval"),
        id="statement without signature",
    ),
    pytest.param(
        Forgery(lambda g: Answer("chris", True, "", g.signed("chris").split(BEGIN)[1]), "not a signed approval"),
        id="signature without statement",
    ),
    pytest.param(
        Forgery(lambda g: Answer("chris", True, "", _corrupted(g.signed("chris"))), "does not match the statement"),
        id="corrupted signature",
    ),
    pytest.param(
        Forgery(_signed("frank"), "frank signed, but is not on the project team"),
        id="allowed signer not on the team",
    ),
    pytest.param(
        Forgery(_signed("erin"), "erin has role engineer; step 's' needs change_manager or security"),
        id="good signature without a gate role",
    ),
    pytest.param(
        Forgery(_signed("chris", purpose="review"), "a review statement, not an approval"), id="a review statement"
    ),
    pytest.param(
        Forgery(_signed("chris", decision="approve-all"), "it must be approve or reject"), id="an unknown decision"
    ),
]


@pytest.mark.reliability("approval forgery")
@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_forged_answer_is_refused_and_the_gate_stays_shut(
    forgery: Forgery,
    engine: Engine,
    ssh_keys: Keys,
    record_property: Callable[[str, object], None],
) -> None:
    the_project = signed_project(ssh_keys, **{**needing_approvals(forgery.needed), **forgery.project})
    gate = open_gate(engine, ssh_keys, the_project, requester=forgery.requester)
    forged = forgery.forge(gate)
    waiting = gate.run.state.waiting_for_approval
    assert waiting == "s"
    decided = gate.run.decide_approval(gate.step, forged)
    logged = gate.decisions()[-1]  # as the log holds it
    assert (logged.decision, logged.reason) == (Decision.REFUSED, decided.reason)
    fragments = (forgery.reason,) if isinstance(forgery.reason, str) else forgery.reason
    assert any(fragment in logged.reason for fragment in fragments), logged.reason
    assert logged.signature == forged.signature  # the attempt is kept as evidence
    assert gate.run.approval_needed(gate.step) and gate.run.state.waiting_for_approval == waiting
    gate.carry_on()
    assert gate.applied() == []
    assert engine.open(the_project, run_id=gate.run.run_id).approval_needed(gate.step)  # read again from the log
    record_property("observed", f"refused: {logged.reason}")


@pytest.mark.reliability("approval forgery")
@pytest.mark.parametrize("environment", ["prod", "lab"])
def test_a_gate_that_was_not_opened_takes_no_answer(
    environment: str, engine: Engine, ssh_keys: Keys, record_property: Callable[[str, object], None]
) -> None:
    run = engine.open(signed_project(ssh_keys, environment=environment))
    run.start()
    gated = run.project.steps[0]
    run.plan(gated)
    # No opening to answer: an approval would name no plan, and hold whatever the run planned next.
    for given in (Answer("chris", True), Answer("chris", True, "", "LGTM -- chris")):
        decided = run.decide_approval(gated, given)
        assert (decided.decision, decided.signed) == (Decision.REFUSED, False)
        assert decided.reason == "the gate of step 's' is not open in this run: nothing was asked to approve yet"
    assert run.approval_needed(gated)
    record_property("observed", f"unsigned and garbage-signed answers refused: {decided.reason}")


# -- what must work --------------------------------------------------------------------------------------------


def _fingerprint(keys: Keys, name: str) -> str:
    """Return the fingerprint of ``name``'s key as ``ssh-keygen -lf`` prints it."""
    listed = subprocess.run(
        ["ssh-keygen", "-lf", f"{keys.private(name)}.pub"], capture_output=True, text=True, check=True
    )
    return listed.stdout.split()[1]


def test_a_good_signed_approval_opens_the_gate(engine: Engine, ssh_keys: Keys) -> None:
    gate = open_gate(engine, ssh_keys)
    request = gate.request
    assert (request.gate, request.signatures_required, request.approvals_needed) == ("s#1", True, 1)
    plan = gate.run.state.gates.plans["s"]
    assert request.plan_digest == plan_digest(plan.changes, plan.diffs)
    assert "frank ssh-ed25519" in request.allowed_signers  # the list the run verifies against, kept in its log
    signed = gate.signed("chris", comment="in the window ✓")
    # The form names chris by his name and types another comment: the statement's signer and comment count.
    decided = gate.run.decide_approval(gate.step, Answer("Chris Change", True, "typed in the form", signed))
    assert (decided.decision, decided.signed, decided.approver, decided.role) == (
        Decision.APPROVED,
        True,
        "chris",
        "change_manager",
    )
    assert decided.signer_key == _fingerprint(ssh_keys, "chris")
    assert (decided.gate, decided.plan_digest, decided.comment) == ("s#1", request.plan_digest, "in the window ✓")
    assert gate.decisions() == [decided]
    assert not gate.run.approval_needed(gate.step) and gate.run.state.waiting_for_approval == ""
    assert gate.run.state.approvals == ["s: approved by chris, signed (in the window ✓)"]
    gate.carry_on()
    assert gate.applied() == [("h1",), ("h2", "h3"), ("h4", "h5"), ("h6",)]
    assert not engine.open(gate.run.project, run_id=gate.run.run_id).approval_needed(gate.step)


@pytest.mark.parametrize(
    ("claim", "signer", "crlf"),
    [
        pytest.param("chris@example.com", "chris@example.com", False, id="signed as the e-mail address"),
        pytest.param("", "chris", False, id="no name in the form"),
        pytest.param("chris", "chris", True, id="line ends turned into CRLF by a browser"),
    ],
)
def test_a_signed_approval_is_taken_as_signed(
    claim: str, signer: str, crlf: bool, engine: Engine, ssh_keys: Keys
) -> None:
    gate = open_gate(engine, ssh_keys)
    signed = gate.signed(signer, key="chris")
    decided = gate.run.decide_approval(
        gate.step, Answer(claim, True, "", signed.replace("\n", "\r\n") if crlf else signed)
    )
    assert (decided.decision, decided.approver, decided.signed) == (Decision.APPROVED, signer, True)
    assert not gate.run.approval_needed(gate.step)


def test_a_signed_rejection_rejects(engine: Engine, ssh_keys: Keys) -> None:
    gate = open_gate(engine, ssh_keys)
    signed = gate.signed("sam", approve=False, comment="not during the freeze")
    # The form's approve box was left ticked: the statement's decision is what counts.
    decided = gate.run.decide_approval(gate.step, Answer("sam", True, "", signed))
    assert (decided.decision, decided.signed, decided.reason) == (Decision.REJECTED, True, "")
    assert gate.run.state.waiting_for_approval == "" and gate.run.approval_needed(gate.step)
    assert gate.run.state.approvals == ["s: rejected by sam, signed (not during the freeze)"]
    gate.carry_on()
    assert gate.applied() == []


def test_a_key_held_only_in_ssh_agent_signs(
    engine: Engine, ssh_keys: Keys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = subprocess.run(["ssh-agent", "-s"], capture_output=True, text=True, check=True)
    agent = dict(re.findall(r"(SSH_AUTH_SOCK|SSH_AGENT_PID)=([^;]+);", started.stdout))
    try:
        monkeypatch.setenv("SSH_AUTH_SOCK", agent["SSH_AUTH_SOCK"])
        subprocess.run(["ssh-add", "-q", str(ssh_keys.private("chris"))], capture_output=True, check=True)
        public = tmp_path / "id_chris.pub"  # alone: the private half is in the agent only
        public.write_text(ssh_keys.public("chris") + "\n")
        gate = open_gate(engine, ssh_keys)
        statement = gate.statement("chris")
        signed = bundle(statement, sign(statement.text().encode("utf-8"), public, APPROVAL_NAMESPACE))
        decided = gate.run.decide_approval(gate.step, Answer("chris", True, "", signed))
        assert (decided.decision, decided.signed) == (Decision.APPROVED, True)
        monkeypatch.delenv("SSH_AUTH_SOCK")
        with pytest.raises(SigningFailed, match="could not sign with"):  # without the agent the .pub signs nothing
            sign(statement.text().encode("utf-8"), public, APPROVAL_NAMESPACE)
    finally:
        os.kill(int(agent["SSH_AGENT_PID"]), signal.SIGTERM)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"environment": "lab"}, id="in the lab"),
        pytest.param({"signing": {"required": False}}, id="outside the lab with signing.required false"),
    ],
)
def test_unsigned_answers_count_where_signatures_are_not_required(
    changes: dict[str, Any], engine: Engine, ssh_keys: Keys
) -> None:
    gate = open_gate(engine, ssh_keys, signed_project(ssh_keys, **changes))
    assert not gate.request.signatures_required
    # A bad signature is refused even here: it is not taken for no signature.
    bad = gate.run.decide_approval(gate.step, Answer("chris", True, "", _corrupted(gate.signed("chris"))))
    assert bad.decision is Decision.REFUSED and "does not match the statement" in bad.reason
    decided = gate.run.decide_approval(gate.step, Answer("chris", True, "ok"))
    assert (decided.decision, decided.signed, decided.signer_key) == (Decision.APPROVED, False, "")
    assert gate.run.state.approvals[-1] == "s: approved by chris, unsigned (ok)"
    assert not gate.run.approval_needed(gate.step)


def test_a_refused_bundle_does_not_make_the_real_answer_a_replay(engine: Engine, ssh_keys: Keys) -> None:
    gate = open_gate(engine, ssh_keys)
    real = gate.signed("chris")
    # Someone sends chris's key and statement with a bad signature; chris first sends his under the wrong name.
    for given in (Answer("chris", True, "", _corrupted(real)), Answer("casey", True, "", real)):
        assert gate.run.decide_approval(gate.step, given).decision is Decision.REFUSED
    decided = gate.run.decide_approval(gate.step, Answer("chris", True, "", real))
    assert (decided.decision, decided.reason) == (Decision.APPROVED, "")
