"""VERIFY.md: how an auditor checks an evidence archive offline, with python3 and ssh-keygen, without itpm.

Built from the archive's own contents (run, head, signed answers), so ``itpm evidence verify`` builds it again and
compares: the commands an auditor runs cannot have been swapped for others.

>>> print(verify_md("r1", "3f9a...", 31, answers))  # doctest: +SKIP
# Verifying the evidence of run r1
...
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from itpm.evidence.members import EVENTS, VERIFY_SCRIPT, SignedAnswer
from itpm.log.chain import SHORT_HASH
from itpm.signing.statement import APPROVAL_NAMESPACE

__all__ = ["ssh_keygen_command", "verify_md"]

_HASH_LINES = """\
    import hashlib, json
    def event_hash(run_id, prev_hash, payload):
        document = {"event": payload, "prev": prev_hash, "run": run_id}
        text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
        return hashlib.sha256(text.encode("ascii")).hexdigest()
"""

_DIGEST_LINES = """\
    def plan_digest(event):  # a step_planned event: its "changes", and the digests of their "diffs"
        plan = {"changes": event["changes"], "diffs": event["diffs"]} if event.get("diffs") else event["changes"]
        text = json.dumps(plan, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
"""


def ssh_keygen_command(answer: SignedAnswer) -> str | None:
    """Return the shell command that checks ``answer``'s signature (None: no allowed signers were recorded)."""
    if answer.signers_name is None:
        return None
    words = ["ssh-keygen", "-Y", "verify", "-f", answer.signers_name, "-I", answer.principal]
    words += ["-n", APPROVAL_NAMESPACE, "-s", answer.signature_name]
    return f"{shlex.join(words)} < {shlex.quote(answer.statement_name)}"


def _answer(answer: SignedAnswer) -> list[str]:
    command = ssh_keygen_command(answer)
    refused = answer.decision not in ("approved", "rejected")
    lines = [
        f"{answer.number}. {answer.decision or 'answer'} by {answer.approver} at step {answer.step} "
        f"({EVENTS} line {answer.answer_line}"
        + (f"; checked against the gate opening on line {answer.request_line})" if answer.request_line else ")"),
        "",
    ]
    if command is None:
        lines += ["   No gate opening before it recorded allowed signers: there is nothing to check it against.", ""]
    else:
        lines += [f"       {command}", ""]
        if refused:
            lines += [
                "   itpm refused this answer (the record says why); its signature is kept as evidence of the",
                "   attempt and need not verify.",
                "",
            ]
    return lines


def verify_md(run_id: str, head: str, events: int, answers: Sequence[SignedAnswer]) -> str:
    """Return VERIFY.md for the archive of run ``run_id``: its chain's ``head``, ``events`` lines, signed answers."""
    lines = [
        f"# Verifying the evidence of run {run_id}",
        "",
        f"This archive holds the {events} events of the run's project log, as stored, and a copy of every",
        "statement its approvers signed. Python 3 and OpenSSH's ssh-keygen are enough to check it; itpm is not",
        "needed. Run the commands below in the directory the archive extracts to.",
        "",
        "## 1. The hash chain",
        "",
        f"    python3 {VERIFY_SCRIPT}",
        "",
        f"Read the script first: it is short and uses Python's standard library only. Each line of {EVENTS} is",
        '`{"event": ..., "hash": ..., "prev": ..., "run": ...}`, and an event\'s hash is computed from the other',
        "three; the first line's prev is 64 zeros. You can as well check it with your own code:",
        "",
        _HASH_LINES,
        "The script recomputes every hash, checks that each line follows the one before it, that the last hash",
        "is the manifest's head, that every file has the sha256 manifest.json gives, and that each file under",
        "approvals/ is exactly what its event in events.jsonl carries. It prints the first bad event, or the head:",
        "",
        f"    {head}",
        "",
        "Then compare the head with one noted elsewhere when the run ended (the status report shows its first",
        f"{SHORT_HASH} hex digits, {head[:SHORT_HASH]}; `itpm log verify {run_id} --head NOTED` checks the live log).",
        "The chain shows that nothing before a noted head was edited, removed, added or moved; without a head",
        "noted elsewhere it only shows that the archive agrees with itself: whoever rewrites every event can",
        "rehash them all (but cannot sign for the approvers).",
        "",
        "## 2. The signatures",
        "",
    ]
    if not answers:
        lines += ["No answer at an approval gate carried a signature in this run.", ""]
    else:
        lines += [
            "Each answer at an approval gate that carried a signature has its signed statement (the exact bytes",
            "signed), its signature and the allowed signers (whose key is whose) the gate was opened with. A good",
            f'one prints `Good "{APPROVAL_NAMESPACE}" signature for <signer> with ... key SHA256:...`:',
            "",
        ]
        for answer in answers:
            lines += _answer(answer)
        lines += [
            "Then read each statement: it names the run, project, step, gate opening, plan digest, decision and",
            "signer, which must be what the answer's event and the gate's opening in events.jsonl say. The plan",
            "digest is that of the step's plan logged before the gate opened (its step_planned event's changes):",
            "",
            _DIGEST_LINES,
            "The allowed signers come from the gate's opening, so the chain covers them; that each key in them is",
            "really its person's is for you to confirm with them.",
            "",
        ]
    return "\n".join(lines)
