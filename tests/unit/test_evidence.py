"""Evidence archives: what one holds, that an untouched one verifies with itpm and offline, what is refused.

The run is tests/unit/evidence_runs.py's; tampering is test_evidence_tampering.py's.
"""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from itpm.evidence import EvidenceRefused, NotEvidence, build_evidence, verify_evidence
from itpm.evidence.instructions import _DIGEST_LINES, _HASH_LINES
from itpm.evidence.members import EVENTS, MANIFEST, VERIFY_MD, pack, unpack
from itpm.evidence.verify_chain import event_hash as auditors_event_hash
from itpm.log.chain import event_hash
from itpm.log.store import ProjectLog
from itpm.signing.statement import plan_digest
from tests.unit.engine_runs import Engine
from tests.unit.evidence_runs import BUILT, RUN, extract, script, shell, ssh_keygen_commands
from tests.unit.test_hostile_input import run_cli
from tests.unit.test_log_chain import MAIN
from tests.unit.test_log_chain import _build as build_chained_log

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
    directory = extract(archive, tmp_path / "x")
    offline = script(directory)
    assert (offline.returncode, offline.stdout.strip()) == (0, f"ok: the chain holds; its head is {report.head}")
    commands = ssh_keygen_commands(directory)
    assert len(commands) == 4
    assert commands[1] == (
        "ssh-keygen -Y verify -f approvals/2.allowed_signers -I chris -n itpm-approval "
        "-s approvals/2-patch-chris.sig < approvals/2-patch-chris.statement"
    )
    for command in commands:
        done = shell(directory, command)
        assert done.returncode == 0 and 'Good "itpm-approval" signature for' in done.stdout + done.stderr, command


def test_the_auditors_hash_is_itpms(archive: Path) -> None:
    lines = [json.loads(line) for line in unpack(archive).files[EVENTS].decode().splitlines()]
    for line in lines:
        assert auditors_event_hash(line["run"], line["prev"], line["event"]) == line["hash"]
        assert event_hash(line["run"], line["prev"], line["event"]) == line["hash"]
    odd = {"kind": "note_added", "text": 'caf\u00e9 \u2603 "quoted"\n', "n": 1.5, "none": None, "list": [3, 1]}
    assert auditors_event_hash("r", "0" * 64, odd) == event_hash("r", "0" * 64, odd)


def test_an_archive_of_a_log_on_either_database_verifies(log_url: str, tmp_path: Path) -> None:
    """PostgreSQL hands back its JSON as written, SQLite as its text: the archive's lines are canonical either way."""
    with ProjectLog(log_url) as log:
        build_chained_log(log)  # a rollout with an approval and a rollback, another run's events interleaved
        path = build_evidence(log, MAIN, tmp_path, built_at=BUILT)
        head = log.chain_head(MAIN)
    report = verify_evidence(path)
    assert report.ok and report.events == 30 and head is not None and report.head == head.hash
    assert script(extract(path, tmp_path / "x")).returncode == 0


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


def test_the_auditors_plan_digest_agrees_with_itpms() -> None:
    """VERIFY.md's few lines compute the digest an approval names, with and without the diffs' digests."""
    namespace: dict[str, Any] = {}
    exec(textwrap.dedent(_HASH_LINES + _DIGEST_LINES), namespace)  # noqa: S102 - the archive's own lines, as shipped
    with_diffs = {"changes": {"h1": ["Banner", "ü"], "h2": []}, "diffs": {"h1": ["3f1c", ""], "h2": []}}
    without = {"changes": {"h1": ["Banner"]}}
    for event in (with_diffs, without):
        expected = plan_digest(event["changes"], event.get("diffs"))
        assert namespace["plan_digest"](event) == expected
