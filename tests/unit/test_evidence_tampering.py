"""Evidence archives tampered with: every change is named by ``verify_evidence``, and the offline route fails too.

Each case changes the archive of tests/unit/evidence_runs.py's run and rewrites its manifest's digests as an
attacker would (so that the manifest alone does not give it away); ``verify_evidence`` must name the member or
event line, and the auditor's own route (verify_chain.py, or the ssh-keygen commands of VERIFY.md) must fail
where it applies. A chain rewritten and rehashed as a whole shows only against a head noted elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from itpm.evidence import verify_evidence
from itpm.evidence.build import derived_members, manifest, manifest_facts
from itpm.evidence.change_record import change_record
from itpm.evidence.members import EVENTS, MANIFEST, VERIFY_MD, EventLine, pack, signed_answers, unpack
from itpm.log.chain import GENESIS, event_hash
from tests.unit.evidence_runs import BUILT, RUN, extract, script, shell, ssh_keygen_commands

Files = dict[str, bytes]


@dataclass(frozen=True)
class Case:
    """A change to the archive, the member a problem must name, and which offline route must fail (if any)."""

    change: Callable[[Files], None]
    named: str
    script: bool = True  # verify_chain.py must fail
    ssh_keygen: bool = False  # some ssh-keygen command of VERIFY.md must fail


def _flip(data: bytes, at: int) -> bytes:
    """Return ``data`` with the byte at ``at`` replaced by another printable one of its kind."""
    byte = data[at]
    other = (
        ord("a") + (byte - ord("a") + 1) % 26
        if chr(byte).islower()
        else ord("A") + (byte - ord("A") + 1) % 26
        if chr(byte).isupper()
        else ord("0") + (byte - ord("0") + 1) % 10
        if chr(byte).isdigit()
        else ord("#")
        if byte != ord("#")
        else ord("%")
    )
    return data[:at] + bytes([other]) + data[at + 1 :]


def _positions(data: bytes, count: int) -> list[int]:
    """Return ``count`` byte positions spread over ``data``, first and last included."""
    return sorted({round(i * (len(data) - 1) / (count - 1)) for i in range(count)})


def _member_byte(name: str, at: int) -> Callable[[Files], None]:
    def change(files: Files) -> None:
        files[name] = _flip(files[name], at)

    return change


def _event_value(number: int) -> Callable[[Files], None]:
    """Change one letter or digit of a value in the payload of events.jsonl line ``number``."""

    def change(files: Files) -> None:
        lines = files[EVENTS].decode().split("\n")
        line = lines[number - 1]
        # The first letter or digit of the payload's last string value: the line stays JSON, only the hash tells.
        values = [i + 3 for i in range(line.index(',"hash":')) if line.startswith('":"', i)]
        at = next(i for i in reversed(values) if line[i].isalnum())
        lines[number - 1] = _flip(line.encode(), at).decode()
        files[EVENTS] = "\n".join(lines).encode()

    return change


def _lines_changed(edit: Callable[[list[str]], None]) -> Callable[[Files], None]:
    def change(files: Files) -> None:
        lines = files[EVENTS].decode().splitlines()
        edit(lines)
        files[EVENTS] = "".join(f"{line}\n" for line in lines).encode()

    return change


def _drop(number: int) -> Callable[[Files], None]:
    def edit(lines: list[str]) -> None:
        del lines[number - 1]

    return _lines_changed(edit)


def _swap(first: int, second: int) -> Callable[[Files], None]:
    def edit(lines: list[str]) -> None:
        lines[first - 1], lines[second - 1] = lines[second - 1], lines[first - 1]

    return _lines_changed(edit)


def _swap_members(*pairs: tuple[str, str]) -> Callable[[Files], None]:
    def change(files: Files) -> None:
        for one, other in pairs:
            files[one], files[other] = files[other], files[one]

    return change


def _replace(name: str, old: bytes, new: bytes) -> Callable[[Files], None]:
    def change(files: Files) -> None:
        assert old in files[name], (name, old)
        files[name] = files[name].replace(old, new)

    return change


def _cases(files: Files) -> dict[str, Case]:
    cases: dict[str, Case] = {}
    statement, signature, signers = (f"approvals/2-patch-chris.{s}" for s in ("statement", "sig", "allowed_signers"))
    signers = "approvals/2.allowed_signers"
    for at in _positions(files[statement], 12):
        cases[f"statement byte {at}"] = Case(_member_byte(statement, at), statement, ssh_keygen=True)
    for at in _positions(files[signature], 12):
        cases[f"signature byte {at}"] = Case(_member_byte(signature, at), signature)
    for at in _positions(files[signers], 8):
        cases[f"allowed signers byte {at}"] = Case(_member_byte(signers, at), signers)
    lines = files[EVENTS].decode().splitlines()
    for number in _positions(b"x" * len(lines), 8):
        cases[f"event line {number + 1} edited"] = Case(_event_value(number + 1), f"{EVENTS} line {number + 1}")
    for number in (1, len(lines) // 2, len(lines)):
        named = f"{EVENTS} line {number}" if number < len(lines) else EVENTS
        cases[f"event line {number} dropped"] = Case(_drop(number), named)
    for first, second in ((1, 2), (5, 6), (3, len(lines) - 1)):
        cases[f"event lines {first} and {second} swapped"] = Case(_swap(first, second), f"{EVENTS} line {first}")
    chris, erin = "approvals/2-patch-chris", "approvals/3-tune-erin"
    no = "approvals/4-later-chris"
    cases["a rejection's statement made an approval"] = Case(
        _replace(f"{no}.statement", b"decision: reject", b"decision: approve"), f"{no}.statement", ssh_keygen=True
    )
    cases["statements of two approvals swapped"] = Case(
        _swap_members((f"{chris}.statement", f"{erin}.statement")), f"{chris}.statement", ssh_keygen=True
    )
    cases["statements and signatures of two approvals swapped"] = Case(
        _swap_members((f"{chris}.statement", f"{erin}.statement"), (f"{chris}.sig", f"{erin}.sig")),
        f"{chris}.statement",
        ssh_keygen=True,
    )
    cases["a signer's principal renamed in the allowed signers"] = Case(
        _replace(signers, b"chris ssh-ed25519", b"mallory ssh-ed25519"), signers, ssh_keygen=True
    )
    cases["the record's approver renamed"] = Case(
        _replace("change-record.json", b'"approver": "chris"', b'"approver": "mallory"'), "change-record.json", False
    )
    cases["VERIFY.md checks another principal"] = Case(
        _replace(VERIFY_MD, b"-I chris", b"-I erin"), VERIFY_MD, script=False, ssh_keygen=True
    )
    cases["the auditor's script always says ok"] = Case(
        _replace("verify_chain.py", b"found = list(problems(here))", b"found = []"), "verify_chain.py", False
    )
    cases["a member added"] = Case(lambda f: f.update({"approvals/9.allowed_signers": b"x\n"}), "approvals/9", False)
    return cases


def _repacked(files: Files, path: Path) -> Path:
    """Write ``files`` as an archive at ``path``, the manifest's digests rewritten to match, as an attacker would."""
    manifest = json.loads(files[MANIFEST])
    manifest["members"] = {n: hashlib.sha256(d).hexdigest() for n, d in files.items() if n != MANIFEST}
    files = {**files, MANIFEST: (json.dumps(manifest, indent=2) + "\n").encode()}
    path.write_bytes(pack(f"{RUN}-evidence", list(files.items()), 0))
    return path


@pytest.mark.reliability("evidence tampering")
def test_every_tampering_is_named_and_the_offline_route_fails_too(
    archive: Path, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    original = unpack(archive).files
    cases = _cases(original)
    problems: list[str] = []
    for index, (name, case) in enumerate(cases.items()):
        files = dict(original)
        case.change(files)
        assert files != original, name
        path = _repacked(files, tmp_path / f"case{index}.tar.gz")
        report = verify_evidence(path)
        sentences = [p.sentence for p in report.problems]
        if report.ok or not any(re.match(re.escape(case.named) + r"\b", s) for s in sentences):
            problems.append(f"{name}: expected a problem naming {case.named}, got {sentences}")
        directory = extract(path, tmp_path / f"case{index}")
        if case.script and script(directory).returncode == 0:
            problems.append(f"{name}: verify_chain.py says ok")
        commands = ssh_keygen_commands(directory)
        if case.ssh_keygen and all(shell(directory, c).returncode == 0 for c in commands):
            problems.append(f"{name}: every ssh-keygen command of VERIFY.md succeeds")
    assert problems == []
    assert len(cases) >= 50
    record_property("cases", len(cases))
    record_property(
        "observed", "each named by itpm evidence verify; verify_chain.py or ssh-keygen fail where they apply"
    )


def test_a_chain_rehashed_after_an_edit_shows_only_against_a_head_noted_elsewhere(
    archive: Path, tmp_path: Path
) -> None:
    """The limit of any hash chain: whoever rewrites every event after an edit, and rehashes them, is caught by a
    head noted before (the status report's), not by the archive alone. Signatures they cannot make."""
    files = unpack(archive).files
    noted = json.loads(files[MANIFEST])["head"][:12]
    lines = [EventLine(**json.loads(line)) for line in files[EVENTS].decode().splitlines()]
    forged, prev = [], GENESIS
    for line in lines:
        event = dict(line.event)
        if event["kind"] == "host_applied" and event["host"] == "h3":
            event["status"] = "ok"
        forged.append(EventLine(line.run, prev, event_hash(line.run, prev, event), event))
        prev = forged[-1].hash
    record = change_record(forged)
    answers = signed_answers(forged)
    members = derived_members(forged, record, answers)
    members.insert(0, (MANIFEST, manifest(manifest_facts(record, answers), members, BUILT)))
    path = tmp_path / "forged.tar.gz"
    path.write_bytes(pack(f"{RUN}-evidence", members, 0))
    assert verify_evidence(path).ok  # the archive agrees with itself
    assert script(extract(path, tmp_path / "x")).returncode == 0
    against_noted = verify_evidence(path, head=noted)
    assert [p.sentence for p in against_noted.problems] == [
        f"{EVENTS}: the head noted, {noted}, is not in the chain: events up to it were changed or removed"
    ]
    assert verify_evidence(archive, head=noted).ok


def test_the_manifest_alone_catches_an_edit_its_digests_do_not_follow(archive: Path, tmp_path: Path) -> None:
    files = unpack(archive).files
    files["change-record.md"] += b"\nApproved by everyone.\n"
    path = tmp_path / "edited.tar.gz"
    path.write_bytes(pack(f"{RUN}-evidence", list(files.items()), 0))
    sentences = [p.sentence for p in verify_evidence(path).problems]
    assert "change-record.md: its sha256 is not the manifest's: changed after the archive was built" in sentences
    directory = extract(path, tmp_path / "x")
    done = script(directory)
    assert done.returncode == 1 and "change-record.md: missing, or its sha256 is not the manifest's" in done.stdout
