"""What an approver signs: a few ``key: value`` lines naming the run, the step, the gate, the plan and the answer.

The text is the exact bytes signed, so it is built and read one way only (``text`` and ``parse_statement``). The
comment is a JSON string so that it stays on its line whatever it holds. A *bundle* is the statement followed by
its armored signature: what ``itpm approve`` sends, what the Prefect form's signature field takes, and what the
``cat statement statement.sig`` of someone signing by hand gives.

>>> s = Statement(purpose="approval", run="r1", project="p", step="baseline", gate="baseline#1",
...               plan="sha256:ab", decision="approve", signer="chris", comment="ok")
>>> s.text().splitlines()[0], parse_statement(s.text()) == s
('itpm signed statement v1', True)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields

from itpm.signing.sshsig import BEGIN

__all__ = [
    "APPROVAL_NAMESPACE",
    "HEADER",
    "Statement",
    "bundle",
    "diff_digest",
    "parse_statement",
    "plan_digest",
    "split_bundle",
]

HEADER = "itpm signed statement v1"
APPROVAL_NAMESPACE = "itpm-approval"  # ssh-keygen -Y's namespace: a git commit signature cannot pass for an approval


@dataclass(frozen=True)
class Statement:
    """A signed statement's fields, in the order they are written."""

    purpose: str  # "approval" (a gate's answer) or "review" (an emergency change's post-implementation review)
    run: str
    project: str
    step: str
    gate: str  # which opening of the gate: "<step>#<n>", so that an answer to an earlier opening cannot be replayed
    plan: str  # plan_digest of the plan the signer reviewed
    decision: str  # "approve" or "reject" ("reviewed" for a review)
    signer: str  # the login or e-mail the signer signs as
    comment: str = ""

    def text(self) -> str:
        """Return the bytes to sign, as text: the header, then one ``key: value`` line per field."""
        lines = [HEADER]
        for name, value in asdict(self).items():
            lines.append(f"{name}: {json.dumps(value) if name == 'comment' else value}")
        return "".join(f"{line}\n" for line in lines)


def parse_statement(text: str) -> Statement:
    """Return the statement ``text`` writes; raise ValueError saying what is wrong with it."""
    lines = text.split("\n")
    if not lines or lines[0] != HEADER:
        raise ValueError(f"a signed statement starts with the line {HEADER!r}")
    if lines[-1] != "":
        raise ValueError("a signed statement ends with a newline")
    names = [f.name for f in fields(Statement)]
    body = lines[1:-1]
    if [line.split(":", 1)[0] for line in body] != names or any(": " not in line for line in body):
        raise ValueError(f"a signed statement has the lines {', '.join(names)}, in that order")
    values = {name: line.split(": ", 1)[1] for name, line in zip(names, body, strict=True)}
    try:
        comment = json.loads(values["comment"])
    except json.JSONDecodeError:
        raise ValueError("the statement's comment is not a JSON string") from None
    if not isinstance(comment, str) or any("\n" in v for v in values.values()):
        raise ValueError("the statement's comment is not a JSON string")
    values["comment"] = comment
    return Statement(**values)


def bundle(statement: Statement, armored_signature: str) -> str:
    """Return the statement followed by its signature: what an answer at a gate carries."""
    return statement.text() + armored_signature.strip() + "\n"


def split_bundle(text: str) -> tuple[str, str]:
    r"""Return the statement text and armored signature of a bundle; raise ValueError if it is not one.

    Line ends are taken as ``\\n``: a browser's form turns them into ``\\r\\n``, and the signature is over ``\\n``.
    """
    normal = text.replace("\r\n", "\n")
    # The armor begins a line: a comment may quote it, but only inside its JSON string, after "comment: ".
    at = normal.find("\n" + BEGIN) + 1
    if at <= 0:
        raise ValueError("a signed answer is the statement followed by its '-----BEGIN SSH SIGNATURE-----' block")
    return normal[:at], normal[at:].strip() + "\n"


def diff_digest(diff: str) -> str:
    """Return a short digest of one task's diff as a plan shows it ("" for a task without a diff)."""
    return hashlib.sha256(diff.encode("utf-8")).hexdigest()[:16] if diff else ""


def plan_digest(changes: dict[str, list[str]], diffs: dict[str, list[str]] | None = None) -> str:
    """Return the digest of a plan's per-host changes and their diffs: ``'sha256:3f1c...'``.

    Hosts are sorted, task order kept. A plan logged before diffs were digested is digested by its changes alone.
    """
    document: object = {"changes": changes, "diffs": diffs} if diffs else changes
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
