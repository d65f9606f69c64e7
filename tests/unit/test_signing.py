"""itpm.signing and the models it reads: statements and bundles, SSH signatures, allowed signers, signing keys.

Signatures are real ones, made by ``ssh-keygen -Y sign`` with the session's keys (``tests.unit.ssh_keys``).
"""

from __future__ import annotations

import base64
import struct
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from itpm.models.project import Person
from itpm.signing.allowed_signers import (
    SignersError,
    allowed_signers_of,
    parse_allowed_signers,
    parse_public_key,
    principal_of,
)
from itpm.signing.ssh_keygen import SigningFailed, sign, verify
from itpm.signing.sshsig import BEGIN, END, MalformedSignature, fingerprint_of, read_signature
from itpm.signing.statement import (
    APPROVAL_NAMESPACE,
    HEADER,
    Statement,
    bundle,
    parse_statement,
    plan_digest,
    split_bundle,
)
from tests.unit.engine_runs import project
from tests.unit.ssh_keys import Keys

STATEMENT = Statement(
    purpose="approval",
    run="engine-test-1",
    project="engine-test",
    step="s",
    gate="s#1",
    plan="sha256:" + "ab" * 32,
    decision="approve",
    signer="chris",
)

# -- statements and bundles ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "comment",
    [
        pytest.param("", id="empty"),
        pytest.param('he said "go", then \\ left', id="quotes and a backslash"),
        pytest.param("line one\nsigner: mallory\ndecision: approve", id="newlines that look like fields"),
        pytest.param("naïve café ✓ 変更 \u2028 \t tab", id="unicode and a line separator"),
        pytest.param(f"pasted {BEGIN} and {END}", id="the signature armor"),
        pytest.param("\r\n\x00", id="control characters"),
    ],
)
def test_a_statement_reads_back_as_written(comment: str) -> None:
    statement = replace(STATEMENT, comment=comment)
    text = statement.text()
    assert text.startswith(HEADER + "\n") and text.endswith("\n")
    assert len(text.splitlines()) == 10  # the header and nine fields: the comment stays on its line
    assert parse_statement(text) == statement


def test_a_statement_lists_its_fields_in_order() -> None:
    assert replace(STATEMENT, comment="ok").text() == (
        "itpm signed statement v1\npurpose: approval\nrun: engine-test-1\nproject: engine-test\nstep: s\n"
        f'gate: s#1\nplan: sha256:{"ab" * 32}\ndecision: approve\nsigner: chris\ncomment: "ok"\n'
    )


@pytest.mark.parametrize(
    ("text", "said"),
    [
        pytest.param(STATEMENT.text().replace(HEADER, "itpm signed statement v2"), "starts with the line", id="header"),
        pytest.param(STATEMENT.text().rstrip("\n"), "ends with a newline", id="no final newline"),
        pytest.param(STATEMENT.text().replace("run: ", "run:"), "has the lines", id="no space after the colon"),
        pytest.param(STATEMENT.text().replace("step: s\n", ""), "has the lines", id="a field missing"),
        pytest.param(
            STATEMENT.text().replace("step: s\ngate: s#1\n", "gate: s#1\nstep: s\n"), "in that order", id="reordered"
        ),
        pytest.param(STATEMENT.text() + "extra: 1\n", "has the lines", id="an extra field"),
        pytest.param(STATEMENT.text().replace('comment: ""', "comment: ok"), "not a JSON string", id="bare comment"),
        pytest.param(STATEMENT.text().replace('comment: ""', "comment: 5"), "not a JSON string", id="number comment"),
        pytest.param(STATEMENT.text().replace('comment: ""', 'comment: "a" "b"'), "not a JSON", id="two strings"),
    ],
)
def test_a_malformed_statement_is_refused_saying_why(text: str, said: str) -> None:
    with pytest.raises(ValueError, match=said):
        parse_statement(text)


def test_a_bundle_splits_into_the_signed_text_and_its_signature(ssh_keys: Keys) -> None:
    statement = replace(STATEMENT, comment=f"quoting {BEGIN} is fine")
    armored = ssh_keys.sign("chris", statement.text().encode("utf-8"))
    made = bundle(statement, armored)
    assert split_bundle(made) == (statement.text(), armored.strip() + "\n")
    # A browser's form sends CRLF line ends; the signature is over LF, and still verifies.
    text, signature = split_bundle(made.replace("\n", "\r\n"))
    assert text == statement.text()
    signers = f"chris {ssh_keys.public('chris')}\n"
    assert verify(text.encode("utf-8"), signature, signers, principal="chris", namespace=APPROVAL_NAMESPACE) == ""


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(STATEMENT.text(), id="no signature"),
        pytest.param(f"{BEGIN}\nAAAA\n{END}\n", id="no statement"),
        pytest.param("", id="empty"),
    ],
)
def test_a_bundle_needs_a_statement_and_a_signature(text: str) -> None:
    with pytest.raises(ValueError, match="statement followed by its"):
        split_bundle(text)


def test_a_plan_digest_is_of_the_hosts_changes_whatever_their_order() -> None:
    plan = {"h2": ["b", "a"], "h1": ["ü"]}
    assert plan_digest(plan) == plan_digest({"h1": ["ü"], "h2": ["b", "a"]})
    assert plan_digest(plan) != plan_digest({"h1": ["ü"], "h2": ["a", "b"]})  # task order is the plan's
    assert plan_digest({}).startswith("sha256:") and len(plan_digest({})) == len("sha256:") + 64


# -- SSH signatures --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("namespace", [APPROVAL_NAMESPACE, "git", "file"])
def test_a_signature_names_its_key_and_namespace(namespace: str, ssh_keys: Keys) -> None:
    info = read_signature(ssh_keys.sign("erin", b"data\n", namespace))
    key_type, blob = parse_public_key(ssh_keys.public("erin"))
    assert (key_type, info.key_type, info.key_blob, info.namespace) == ("ssh-ed25519", key_type, blob, namespace)
    public = f"{ssh_keys.private('erin')}.pub"
    listed = subprocess.run(["ssh-keygen", "-lf", public], capture_output=True, text=True, check=True)
    assert info.fingerprint == fingerprint_of(blob) == listed.stdout.split()[1]


def _armor(data: bytes) -> str:
    return f"{BEGIN}\n{base64.b64encode(data).decode()}\n{END}\n"


def _sshsig(*strings: bytes) -> bytes:
    return b"SSHSIG" + struct.pack(">I", 1) + b"".join(struct.pack(">I", len(s)) + s for s in strings)


@pytest.mark.parametrize(
    ("armored", "said"),
    [
        pytest.param("lgtm", "starts with -----BEGIN SSH SIGNATURE-----", id="not armored"),
        pytest.param(f"{BEGIN}\nAAAA\n", "ends with", id="no end line"),
        pytest.param(f"{BEGIN}\nnot base64!\n{END}", "not base64", id="not base64"),
        pytest.param(_armor(b"SSHSIX" + b"\0" * 40), "not an SSHSIG signature", id="wrong magic"),
        pytest.param(_armor(b"SSHSIG"), "not an SSHSIG signature", id="magic only"),
        pytest.param(_armor(_sshsig(b"\0\0\0\x0bssh-ed25519")), "ends early", id="no namespace"),
        pytest.param(_armor(_sshsig(b"\0\0\0\x0bssh-ed25519", b"itpm")[:-2]), "ends early", id="truncated"),
        pytest.param(_armor(_sshsig(b"\0\0\0\xffssh", b"itpm")), "ends early", id="key type longer than the key"),
        pytest.param(_armor(_sshsig(b"\0\0\0\x02\xff\xfe", b"itpm")), "not text", id="key type not text"),
        pytest.param(_armor(_sshsig(b"\0\0\0\x03ssh", b"\xff")), "not text", id="namespace not text"),
    ],
)
def test_a_malformed_signature_is_named(armored: str, said: str) -> None:
    with pytest.raises(MalformedSignature, match=said):
        read_signature(armored)


def test_ssh_keygen_verifies_the_signer_data_and_namespace(ssh_keys: Keys, tmp_path: Path) -> None:
    armored = ssh_keys.sign("chris", b"approve\n")
    signers = f"chris,chris@example.com {ssh_keys.public('chris')}\nerin {ssh_keys.public('erin')}\n"
    assert verify(b"approve\n", armored, signers, principal="chris@example.com", namespace=APPROVAL_NAMESPACE) == ""
    for data, principal, namespace in [
        (b"approve!\n", "chris", APPROVAL_NAMESPACE),
        (b"approve\n", "erin", APPROVAL_NAMESPACE),
        (b"approve\n", "chris", "git"),
    ]:
        assert verify(data, armored, signers, principal=principal, namespace=namespace) != ""
    with pytest.raises(SigningFailed, match="does not exist"):
        sign(b"x", tmp_path / "id_nobody", APPROVAL_NAMESPACE)
    not_a_key = tmp_path / "not_a_key"
    not_a_key.write_text("hello\n")
    with pytest.raises(SigningFailed, match="could not sign with"):
        sign(b"x", not_a_key, APPROVAL_NAMESPACE)


# -- allowed signers and signing keys --------------------------------------------------------------------------


def test_allowed_signers_are_read_with_their_principals_and_options(ssh_keys: Keys) -> None:
    chris, erin = ssh_keys.public("chris"), ssh_keys.public("erin")
    text = (
        f"# who signs\n\nchris,chris@example.com {chris}\n"
        f'  "erin" namespaces="itpm-approval",valid-after="20260101" {erin}\n'
    )
    read = parse_allowed_signers(text)
    assert [(s.principals, s.key_type) for s in read] == [
        (("chris", "chris@example.com"), "ssh-ed25519"),
        (("erin",), "ssh-ed25519"),
    ]
    assert read[0].key_blob == parse_public_key(chris)[1] and read[1].line.startswith('"erin" namespaces=')


@pytest.mark.parametrize(
    ("line", "said"),
    [
        pytest.param("chris", "line 2: no key in 'chris'", id="a principal alone"),
        pytest.param("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5", "line 2: no key", id="no principal"),
        pytest.param("chris ssh-ed25519", "line 2: no key", id="a type without a key"),
        pytest.param("chris ssh-ed25519 not-base64!", "line 2: the key after ssh-ed25519 is not base64", id="base64"),
    ],
)
def test_a_malformed_allowed_signers_line_is_named(line: str, said: str) -> None:
    with pytest.raises(SignersError, match=said) as raised:
        parse_allowed_signers(f"# header\n{line}\n", origin="signers.txt")
    assert str(raised.value).startswith("signers.txt, line 2") and raised.value.fix


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        pytest.param({"signing_key": "-----BEGIN OPENSSH PRIVATE KEY-----"}, "the .pub file's line", id="private key"),
        pytest.param({"signing_key": "ssh-ed25519"}, "the .pub file's line", id="a type alone"),
        pytest.param({"signing_key": "ssh-ed25519 AAAA!"}, "is not base64", id="not base64"),
        pytest.param({"signing_key": "ssh-ed25519 aGVsbG8="}, "not a ssh-ed25519 key", id="not a key"),
        pytest.param({"user": None}, "needs the person's user or email", id="nobody to sign as"),
    ],
)
def test_a_person_s_signing_key_must_be_a_public_key_they_sign_as(
    fields: dict[str, Any], said: str, ssh_keys: Keys
) -> None:
    person = {
        "name": "Chris Change",
        "role": "change_manager",
        "user": "chris",
        "signing_key": ssh_keys.public("chris"),
    }
    assert Person.model_validate(person).signing_key == ssh_keys.public("chris")
    with pytest.raises(ValidationError, match=said):
        Person.model_validate({**person, **fields})


def test_a_key_must_be_of_the_type_it_says(ssh_keys: Keys) -> None:
    # ssh-keygen skips such a line of the allowed signers: its signer's every signature would be refused.
    mislabelled = ssh_keys.public("chris").replace("ssh-ed25519", "ssh-rsa")
    with pytest.raises(ValidationError, match="the key after ssh-rsa is not a ssh-rsa key"):
        Person(name="Chris", role="change_manager", user="chris", signing_key=mislabelled)
    with pytest.raises(SignersError, match="line 1: the key after ssh-rsa is not a ssh-rsa key"):
        parse_allowed_signers(f"chris {mislabelled}\n")


def _team(keys: Keys) -> list[dict[str, Any]]:
    return [
        {"name": "Dana Engineer", "role": "engineer", "user": "dana"},  # no key: not a signer
        {
            "name": "Chris O'Change ✓",
            "role": "change_manager",
            "user": "chris",
            "email": "chris@example.com",
            "signing_key": keys.public("chris"),
        },
        {"name": "Erin", "role": "engineer", "email": "erin@example.com", "signing_key": keys.public("erin")},
    ]


def test_the_allowed_signers_of_a_project_are_its_team_keys_then_its_file(ssh_keys: Keys) -> None:
    signers = allowed_signers_of(project(team=_team(ssh_keys), signing={"allowed_signers": str(ssh_keys.signers_file)}))
    chris, erin, frank = (" ".join(ssh_keys.public(n).split()[:2]) for n in ("chris", "erin", "frank"))
    assert signers == (
        f"chris,chris@example.com {chris} Chris_O'Change_✓\nerin@example.com {erin} Erin\nfrank {frank} frank@test\n"
    )
    # ssh-keygen reads the list as the run records it, comments with quotes and accents included.
    for principal, name in [("chris@example.com", "chris"), ("erin@example.com", "erin"), ("frank", "frank")]:
        armored = ssh_keys.sign(name, b"x\n")
        assert verify(b"x\n", armored, signers, principal=principal, namespace=APPROVAL_NAMESPACE) == ""
    assert allowed_signers_of(project(team=_team(ssh_keys)[:1])) == ""


def test_a_project_s_signers_file_must_be_readable_and_well_formed(ssh_keys: Keys, tmp_path: Path) -> None:
    missing = tmp_path / "missing_signers"
    with pytest.raises(SignersError, match="cannot read the allowed signers file") as raised:
        allowed_signers_of(project(signing={"allowed_signers": str(missing)}))
    assert "signing.allowed_signers" in raised.value.fix
    broken = tmp_path / "broken_signers"
    broken.write_text(f"frank {ssh_keys.public('frank')}\nmallory\n")
    with pytest.raises(SignersError, match=f"{broken}, line 2: no key"):
        allowed_signers_of(project(signing={"allowed_signers": str(broken)}))


def test_a_team_member_signs_as_their_login_else_their_e_mail() -> None:
    team = [
        {"name": "Chris Change", "role": "change_manager", "user": "chris", "email": "chris@example.com"},
        {"name": "Erin Mail", "role": "engineer", "email": "erin@example.com"},
        {"name": "Nobody Reachable", "role": "engineer"},
    ]
    the_project = project(team=team)
    assert [principal_of(the_project, who) for who in ("Chris Change", "chris@example.com", "Erin Mail")] == [
        "chris",
        "chris",
        "erin@example.com",
    ]
    for who in ("Nobody Reachable", "mallory"):
        with pytest.raises(SignersError, match=f"{who} cannot sign for project engine-test"):
            principal_of(the_project, who)
