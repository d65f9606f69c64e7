"""Check an itpm evidence archive, extracted, with Python's standard library only: python3 verify_chain.py [DIR].

Recomputes every event's hash from events.jsonl and checks that each follows the one before it, compares the
last with the manifest's head, each file with the manifest's sha256, and each approvals/ file with the event it
was copied from. Prints every problem (the first bad event first), or the chain's head; exits 1 on a problem.
DIR is the archive's directory: by default, the one this script is in. (itpm ships this file as it is.)
"""

import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

BEGIN = "-----BEGIN SSH SIGNATURE-----"


def event_hash(run: str, prev: str, event: dict) -> str:  # type: ignore[type-arg]
    """Return the hex SHA-256 of the canonical JSON of an event, the hash of the one before it, and its run."""
    text = json.dumps({"event": event, "prev": prev, "run": run}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def problems(here: Path) -> Iterator[str]:
    """Yield what does not hold, in words."""

    def read(name: str) -> str | None:
        return (here / name).read_text() if (here / name).is_file() else None

    manifest = json.loads(read("manifest.json") or "null")
    lines = [json.loads(text) for text in (read("events.jsonl") or "").splitlines()]
    prev = "0" * 64
    for number, line in enumerate(lines, 1):
        what = f"events.jsonl line {number} ({line['event'].get('kind')})"
        if line["run"] != manifest["run"]:
            yield f"{what} is of run {line['run']}, not {manifest['run']}"
        if line["prev"] != prev:
            yield f"{what} does not follow the line before it: a line was removed, added or moved"
        if event_hash(line["run"], line["prev"], line["event"]) != line["hash"]:
            yield f"{what} was edited: it does not match its hash"
        prev = line["hash"]
    if prev != manifest["head"]:
        yield f"the last line's hash {prev[:12]} is not the manifest's head: lines were removed at the end"
    for name, digest in sorted(manifest["members"].items()):
        if not (here / name).is_file() or hashlib.sha256((here / name).read_bytes()).hexdigest() != digest:
            yield f"{name}: missing, or its sha256 is not the manifest's"
    bundles = [line["event"].get("signature", "").replace("\r\n", "\n") for line in lines]
    signed = [n for n, line in enumerate(lines, 1) if line["event"].get("kind") == "approval_decided"]
    signed = [n for n in signed if bundles[n - 1].find(BEGIN) > 0]
    if [a["answer_line"] for a in manifest["approvals"]] != signed:
        yield f"manifest.json lists other approvals than the signed answers of events.jsonl (lines {signed})"
    for a in manifest["approvals"]:
        bundle = bundles[a["answer_line"] - 1]
        at = bundle.find(BEGIN)
        if read(a["statement"]) != bundle[:at] or read(a["signature"]) != bundle[at:].strip() + "\n":
            yield f"{a['statement']} or its .sig is not what events.jsonl line {a['answer_line']} carries"
        request = lines[a["request_line"] - 1]["event"] if a["request_line"] else {}
        if a["allowed_signers"] and read(a["allowed_signers"]) != request.get("allowed_signers"):
            yield f"{a['allowed_signers']} is not what events.jsonl line {a['request_line']} recorded"


def main(here: Path) -> int:
    """Print the problems found in the archive extracted at ``here``, or its head; return the exit status."""
    try:
        found = list(problems(here))
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError) as error:
        found = [f"the archive cannot be read: {error!r}"]
    head = "" if found else json.loads((here / "manifest.json").read_text())["head"]
    print("\n".join(found) or f"ok: the chain holds; its head is {head}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent))
