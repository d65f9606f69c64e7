"""Evidence archives: built from a run with signed approvals, checked by itpm and offline, and every tampering named.

The run (fake ports, real SQLite log) has three gated steps: at the first, the requester's own signed approval is
refused, then chris approves, signed; at the second, erin approves, signed; at the third, chris rejects, signed.
The first step's second batch fails a check, halts and is rolled back. Each tampering case changes the archive,
rewrites its manifest's digests as an attacker would (so that the manifest alone does not give it away), and must
be named by ``verify_evidence`` and caught by the auditor's own route (verify_chain.py, or the ssh-keygen commands
of VERIFY.md) where that applies.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from itpm.engine.approvals import Answer
from itpm.evidence import EvidenceRefused, NotEvidence, build_evidence, verify_evidence
from itpm.evidence.build import derived_members, manifest, manifest_facts
from itpm.evidence.change_record import change_record
from itpm.evidence.members import EVENTS, MANIFEST, VERIFY_MD, EventLine, pack, signed_answers, unpack
from itpm.evidence.verify_chain import event_hash as auditors_event_hash
from itpm.log.chain import GENESIS, event_hash
from itpm.log.events import RunHalted
from itpm.models.statuses import Decision, RunEnd
from itpm.project_run import ProjectRun
from itpm.signing import ssh_keygen
from itpm.signing.instructions import statement_for
from itpm.signing.statement import APPROVAL_NAMESPACE, bundle
from tests.unit.engine_runs import ROLLBACK, Engine, drive, project, step
from tests.unit.fake_ports import FakeVerifier, Outcome
from tests.unit.test_hostile_input import run_cli

RUN = "engine-test-1"
BUILT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _key(directory: Path, who: str) -> tuple[Path, str]:
    """Return a fresh ed25519 key of ``who``: its private key file and its public line."""
    private = directory / f"id_{who}"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", who, "-f", str(private)], check=True)
    return private, private.with_suffix(".pub").read_text().strip()


def _signed(run: ProjectRun, step_name: str, who: str, key: Path, comment: str, *, approve: bool = True) -> Answer:
    """Return ``who``'s answer to the step's open gate, signed with ``key`` as the gate's page says."""
    request = run.state.gates.requests[step_name]
    statement = statement_for(request, project=run.project.name, signer=who, approve=approve, comment=comment)
    signature = ssh_keygen.sign(statement.text().encode(), key, APPROVAL_NAMESPACE)
    return Answer(who, approve, comment, bundle(statement, signature))


@pytest.fixture
def logged_run(engine: Engine, tmp_path: Path) -> Engine:
    """The run of the module's docstring, in ``engine``'s log."""
    keys = {who: _key(tmp_path, who) for who in ("dana", "chris", "erin")}
    team = [
        {"name": "Dana Engineer", "role": "engineer", "user": "dana", "signing_key": keys["dana"][1]},
        {"name": "Chris Change", "role": "change_manager", "user": "chris", "signing_key": keys["chris"][1]},
        {"name": "Erin Engineer", "role": "engineer", "user": "erin", "signing_key": keys["erin"][1]},
    ]
    first = step("patch", rollback=str(ROLLBACK), strategy={"approval": {"roles": ["change_manager"]}})
    second = step("tune", strategy={"approval": {"roles": ["engineer"]}})
    third = step("later", strategy={"approval": {"roles": ["change_manager"]}})
    the_project = project(first, second, third, team=team, risks=[_RISK])
    run = engine.open(the_project, verifier=FakeVerifier({"h3": Outcome.CHECK_FAILED}))
    run.start()
    patch, tune, later = run.project.steps
    for each in (patch, tune, later):
        run.audit(each, "before")
        run.plan(each)
    run.request_approval(patch)
    refused = run.decide_approval(patch, _signed(run, "patch", "dana", keys["dana"][0], "my own change"))
    approved = run.decide_approval(patch, _signed(run, "patch", "chris", keys["chris"][0], "in the window"))
    run.request_approval(tune)
    tuned = run.decide_approval(tune, _signed(run, "tune", "erin", keys["erin"][0], "ok"))
    run.request_approval(later)
    no = run.decide_approval(later, _signed(run, "later", "chris", keys["chris"][0], "not now", approve=False))
    decisions = (refused.decision, approved.decision, tuned.decision, no.decision)
    assert decisions == (Decision.REFUSED, Decision.APPROVED, Decision.APPROVED, Decision.REJECTED), refused.reason
    assert approved.signed and tuned.signed and no.signed
    drive(run, patch)  # the canary passes, batch 1 fails on h3: halted and rolled back
    run.audit(patch, "after")
    run.finish(RunEnd.HALTED)
    assert any(isinstance(e, RunHalted) for e in engine.logged())
    return engine


_RISK = {
    "id": "R1",
    "title": "The patch breaks SSH",
    "likelihood": "low",
    "impact": "high",
    "mitigation": "canary first",
    "owner": "dana",
}


@pytest.fixture
def archive(logged_run: Engine, tmp_path: Path) -> Path:
    """The run's evidence archive."""
    return build_evidence(logged_run.log, RUN, tmp_path / "out", built_at=BUILT)


def _extract(path: Path, into: Path) -> Path:
    """Extract the archive at ``path`` under ``into``; return its directory."""
    with tarfile.open(path) as packed:
        packed.extractall(into, filter="data")
    [directory] = into.iterdir()
    return directory


def _script(directory: Path) -> subprocess.CompletedProcess[str]:
    """Run the archive's own verify_chain.py with the system's python3, as an auditor would."""
    return subprocess.run(
        ["python3", "verify_chain.py"], cwd=directory, capture_output=True, text=True, timeout=60, check=False
    )


def _commands(directory: Path) -> list[str]:
    """Return the ssh-keygen commands VERIFY.md gives, as written."""
    text = (directory / VERIFY_MD).read_text()
    return [line.strip() for line in text.splitlines() if line.strip().startswith("ssh-keygen -Y verify")]


def _shell(directory: Path, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command], cwd=directory, capture_output=True, text=True, timeout=60, check=False
    )


# -- an untouched archive ---------------------------------------------------------------------------------------


def test_an_archive_holds_the_chained_events_the_record_and_the_signed_answers(
    logged_run: Engine, archive: Path
) -> None:
    unpacked = unpack(archive)
    files = unpacked.files
    assert unpacked.top == f"{RUN}-evidence" and unpacked.odd == []
    assert list(files)[:6] == [MANIFEST, VERIFY_MD, "verify_chain.py", EVENTS, "change-record.json", "change-record.md"]
    assert sorted(name for name in files if name.startswith("approvals/")) == [
        "approvals/1-patch-dana.sig",
        "approvals/1-patch-dana.statement",
        "approvals/1.allowed_signers",
        "approvals/2-patch-chris.sig",
        "approvals/2-patch-chris.statement",
        "approvals/2.allowed_signers",
        "approvals/3-tune-erin.sig",
        "approvals/3-tune-erin.statement",
        "approvals/3.allowed_signers",
        "approvals/4-later-chris.sig",
        "approvals/4-later-chris.statement",
        "approvals/4.allowed_signers",
    ]
    lines = [json.loads(line) for line in files[EVENTS].decode().splitlines()]
    stored = logged_run.logged()
    assert len(lines) == len(stored) and [line["event"]["kind"] for line in lines] == [e.kind for e in stored]
    head = logged_run.log.chain_head(RUN)
    manifest = json.loads(files[MANIFEST])
    assert head is not None and manifest["head"] == lines[-1]["hash"] == head.hash
    assert manifest["built_at"] == BUILT.isoformat() and manifest["run"] == RUN
    assert all(hashlib.sha256(files[n]).hexdigest() == d for n, d in manifest["members"].items())
    assert set(manifest["members"]) == set(files) - {MANIFEST}
    # The statement is the signed bytes; the allowed signers are the gate's, as recorded.
    assert files["approvals/2-patch-chris.statement"].decode().splitlines()[-3:] == [
        "decision: approve",
        "signer: chris",
        'comment: "in the window"',
    ]
    assert b"chris ssh-ed25519 " in files["approvals/2.allowed_signers"]


def test_the_change_record_says_who_approved_what_and_what_happened_to_each_host(archive: Path) -> None:
    files = unpack(archive).files
    record = json.loads(files["change-record.json"])
    assert (record["run"], record["requester"], record["times"]["status"]) == (RUN, "dana", "halted")
    assert record["project_file"] is None  # built without the project file: the events alone
    patch = record["steps"][0]
    assert patch["name"] == "patch" and patch["plans"][0]["changes"]["h1"] == ["Banner shown before SSH login"]
    assert [(b["label"], b["verdict"], b["failed"]) for b in patch["batches"]] == [
        ("patch/canary", "passed", []),
        ("patch/batch 1", "halted", ["h3"]),
    ]
    h3 = next(h for h in patch["batches"][1]["hosts"] if h["host"] == "h3")
    assert (h3["applied"], h3["verified"], h3["check_failures"][0]["check"]) == (
        "changed",
        False,
        "test_banner_shown",
    )
    assert [(r["batch"], r["hosts"]) for r in patch["rollbacks"]] == [("patch/batch 1", ["h2", "h3"])]
    banner = next(c for c in patch["compliance"] if c["check"] == "test_banner_shown")
    assert (banner["failing_before"], banner["failing_after"]) == (["h3"], ["h3"])
    approvals = [(a["step"], a["approver"], a["decision"], a["signed"], a["role"]) for a in record["approvals"]]
    assert approvals == [
        ("patch", "dana", "refused", False, ""),
        ("patch", "chris", "approved", True, "change_manager"),
        ("tune", "erin", "approved", True, "engineer"),
        ("later", "chris", "rejected", True, ""),
    ]
    chris = record["approvals"][1]
    assert chris["signer_key"].startswith("SHA256:") and chris["plan_digest"] == patch["plans"][0]["digest"]
    assert chris["gate"] == "patch#1" and chris["files"]["statement"] == "approvals/2-patch-chris.statement"
    assert "who requested this run" in record["approvals"][0]["reason"]
    assert record["halts"][0]["reason"].startswith("1 of 2 hosts of patch/batch 1 failed")
    text = files["change-record.md"].decode()
    assert "# Change record: Engine rules under test" in text and "in the window" in text


def test_the_project_files_objectives_and_risks_go_in_marked_as_not_chained(logged_run: Engine, tmp_path: Path) -> None:
    the_project = logged_run.runs[0].project
    path = build_evidence(logged_run.log, RUN, tmp_path / "e.tar.gz", project=the_project, built_at=BUILT)
    files = unpack(path).files
    part = json.loads(files["change-record.json"])["project_file"]
    assert part["objectives"] == ["Every rule holds"] and part["risks"][0]["id"] == "R1"
    assert "not covered by the chain" in files["change-record.md"].decode()
    assert verify_evidence(path).ok


def test_an_untouched_archive_verifies_with_itpm_and_offline(archive: Path, tmp_path: Path) -> None:
    report = verify_evidence(archive)
    assert report.problems == () and report.ok
    assert (report.run_id, report.signatures) == (RUN, 3)  # chris's approval and rejection, erin's; dana's refused
    assert report.attempts == ("approvals/1-patch-dana.statement: a refused answer by dana; its signature verifies",)
    assert report.summary.startswith(f"verified: {report.events} events, chain head {report.head[:12]}")
    directory = _extract(archive, tmp_path / "x")
    offline = _script(directory)
    assert (offline.returncode, offline.stdout.strip()) == (0, f"ok: the chain holds; its head is {report.head}")
    commands = _commands(directory)
    assert len(commands) == 4
    assert commands[1] == (
        "ssh-keygen -Y verify -f approvals/2.allowed_signers -I chris -n itpm-approval "
        "-s approvals/2-patch-chris.sig < approvals/2-patch-chris.statement"
    )
    for command in commands:
        done = _shell(directory, command)
        assert done.returncode == 0 and 'Good "itpm-approval" signature for' in done.stdout + done.stderr, command


def test_the_auditors_hash_is_itpms(archive: Path) -> None:
    lines = [json.loads(line) for line in unpack(archive).files[EVENTS].decode().splitlines()]
    for line in lines:
        assert auditors_event_hash(line["run"], line["prev"], line["event"]) == line["hash"]
        assert event_hash(line["run"], line["prev"], line["event"]) == line["hash"]
    odd = {"kind": "note_added", "text": 'caf\u00e9 \u2603 "quoted"\n', "n": 1.5, "none": None, "list": [3, 1]}
    assert auditors_event_hash("r", "0" * 64, odd) == event_hash("r", "0" * 64, odd)


def test_the_same_log_gives_the_same_archive(logged_run: Engine, archive: Path, tmp_path: Path) -> None:
    again = build_evidence(logged_run.log, RUN, tmp_path / "again.tar.gz", built_at=BUILT)
    assert again.read_bytes() == archive.read_bytes()


# -- what is refused --------------------------------------------------------------------------------------------


def test_a_log_whose_chain_is_broken_gives_no_archive(logged_run: Engine, tmp_path: Path) -> None:
    from sqlalchemy import text  # noqa: PLC0415 - only this test edits the log with SQL

    with logged_run.log.engine.begin() as connection:
        connection.execute(text("UPDATE events SET payload = replace(payload, 'in the window', 'whenever')"))
    with pytest.raises(EvidenceRefused) as refused:
        build_evidence(logged_run.log, RUN, tmp_path)
    assert "was edited" in refused.value.message and "itpm log verify" in refused.value.fix


@pytest.mark.parametrize(
    "content", [None, b"not a tar file", b"\x1f\x8b\x08\x00garbage"], ids=["missing", "text", "bad gzip"]
)
def test_a_file_that_is_no_archive_is_bad_input(content: bytes | None, tmp_path: Path) -> None:
    path = tmp_path / "x.tar.gz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(NotEvidence) as refused:
        verify_evidence(path)
    assert str(path) in refused.value.message and refused.value.exit_code == 2


def test_the_commands_exit_0_1_and_2(logged_run: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITPM_STATE_DIR", str(logged_run.settings.state_dir))
    built = run_cli("evidence", RUN)  # the project file is gone (never written): the events alone
    path = logged_run.settings.state_dir / "reports" / "evidence" / f"{RUN}.tar.gz"
    assert built.code == 0 and str(path) in built.output and "without the project file" in built.output
    explicit = run_cli("evidence", "build", RUN, "--out", str(tmp_path / "mine.tar.gz"))
    assert explicit.code == 0 and (tmp_path / "mine.tar.gz").is_file()
    verified = run_cli("evidence", "verify", str(path))
    assert verified.code == 0 and "verified: " in verified.output
    head = logged_run.log.chain_head(RUN)
    assert head is not None
    assert run_cli("evidence", "verify", str(path), "--head", head.short).code == 0
    assert run_cli("evidence", "verify", str(path), "--head", "0123456789ab").code == 1
    files = unpack(path).files
    files["approvals/2-patch-chris.statement"] = files["approvals/2-patch-chris.statement"].replace(b"chris", b"erin")
    tampered = tmp_path / "tampered.tar.gz"
    tampered.write_bytes(pack(f"{RUN}-evidence", list(files.items()), 0))
    failed = run_cli("evidence", "verify", str(tampered))
    assert failed.code == 1 and "approvals/2-patch-chris.statement: " in failed.output
    assert "does not verify" in failed.output
    missing = run_cli("evidence", "verify", str(tmp_path / "nothing.tar.gz"))
    assert missing.code == 2 and "fix:" in missing.output and "Traceback" not in missing.output
    unknown = run_cli("evidence", "no-such-run")
    assert unknown.code == 2 and "no-such-run" in unknown.output


# -- tampering --------------------------------------------------------------------------------------------------

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
        directory = _extract(path, tmp_path / f"case{index}")
        if case.script and _script(directory).returncode == 0:
            problems.append(f"{name}: verify_chain.py says ok")
        commands = _commands(directory)
        if case.ssh_keygen and all(_shell(directory, c).returncode == 0 for c in commands):
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
    assert _script(_extract(path, tmp_path / "x")).returncode == 0
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
    directory = _extract(path, tmp_path / "x")
    done = _script(directory)
    assert done.returncode == 1 and "change-record.md: missing, or its sha256 is not the manifest's" in done.stdout
