"""Secrets: what Ansible inherits, the vault password file, no_log results, and the search the lab test relies on.

The end-to-end proof (a seeded secret found nowhere itpm writes) is tests/lab/test_secrets.py.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from itpm.errors import InventoryError
from itpm.execution.events import parse_event, summarize_hosts
from itpm.execution.runner import ansible_environment
from itpm.models.results import HostStatus
from itpm.vault import vault_environment
from tests.secret_scan import SecretForms, scan_bytes, scan_paths

REPO = Path(__file__).resolve().parents[2]
HIDDEN = "the output has been hidden due to the fact that 'no_log: true' was specified for this result"


def test_ansible_inherits_no_secret_of_the_itpm_process() -> None:
    inherited = {
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PATH": "/usr/bin",
        "ITPM_SMTP_PASSWORD": "pw",
        "ITPM_WEBHOOK_TOKEN": "tok",
        "OPS_WEBHOOK_URL": "https://hooks.example.com/T0/B0/secretpath",  # a secret address: no telling name
        "AWS_SECRET_ACCESS_KEY": "aws",
        "ANSIBLE_GALAXY_TOKEN": "galaxy",  # Ansible's prefix does not make a secret harmless
        "ANSIBLE_CONFIG": "/etc/ansible/itpm.cfg",
    }
    run_environment = {
        **inherited,
        "PATH": "/work/.venv/bin:/usr/bin",  # set by itpm for the run: kept
        "ANSIBLE_FORKS": "5",
        "ANSIBLE_VAULT_PASSWORD_FILE": "/etc/itpm/vault-password",  # a path, set by itpm: kept
        "RUNNER_OMIT_EVENTS": "False",  # set by ansible-runner: kept
    }
    assert ansible_environment(run_environment, inherited) == {
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PATH": "/work/.venv/bin:/usr/bin",
        "ANSIBLE_CONFIG": "/etc/ansible/itpm.cfg",
        "ANSIBLE_FORKS": "5",
        "ANSIBLE_VAULT_PASSWORD_FILE": "/etc/itpm/vault-password",
        "RUNNER_OMIT_EVENTS": "False",
    }


@pytest.fixture
def password_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "vault-password"
    path.write_text("not-a-real-password\n")
    path.chmod(0o600)
    yield path


def test_vault_password_file_reaches_ansible_as_its_path(password_file: Path) -> None:
    assert vault_environment(None) == {}
    assert vault_environment(password_file) == {"ANSIBLE_VAULT_PASSWORD_FILE": str(password_file)}
    password_file.chmod(0o755)  # an executable prints the password from elsewhere: it may be readable
    assert vault_environment(password_file) == {"ANSIBLE_VAULT_PASSWORD_FILE": str(password_file)}


@pytest.mark.parametrize(
    ("problem", "message", "fix"),
    [
        ("world-readable", "other users may read the vault password (mode 0644)", "chmod 600"),
        ("missing", "cannot read it (No such file or directory)", "point ITPM_VAULT_PASSWORD_FILE at"),
        ("directory", "is not a file", "point ITPM_VAULT_PASSWORD_FILE at"),
    ],
)
def test_a_vault_password_file_that_cannot_be_used_is_refused(
    password_file: Path, problem: str, message: str, fix: str
) -> None:
    given = {
        "world-readable": password_file,
        "missing": password_file.with_name("nope"),
        "directory": password_file.parent,
    }
    password_file.chmod(0o644)
    with pytest.raises(InventoryError) as refused:
        vault_environment(given[problem])
    assert message in refused.value.message and fix in refused.value.fix


def test_a_no_log_result_counts_its_change_and_says_it_was_hidden() -> None:
    # Recorded from a lab run of tests/lab/data/playbooks/secret.yml: ansible-runner keeps only 'censored'.
    def event(kind: str, counter: int, stdout: str) -> dict[str, Any]:
        data = {"host": "h2", "task": "Token file holds the API token", "res": {"censored": HIDDEN}}
        return {"event": kind, "counter": counter, "stdout": stdout, "event_data": data}

    failed = event("runner_on_failed", 14, 'fatal: [h2]: FAILED! => {"censored": "..."}')
    failed["event_data"]["task"] = "Service accepts the API token"
    events = [parse_event(e) for e in (event("runner_on_ok", 7, "changed: [h2]"), failed)]
    assert events[0].changed and events[1].message == HIDDEN
    h2 = summarize_hosts(events, ["h2"])["h2"]
    assert (h2.status, h2.changed_tasks) == (HostStatus.FAILED, 1)
    assert h2.failure is not None and (h2.failure.task, h2.failure.message) == ("Service accepts the API token", HIDDEN)
    unchanged = parse_event(event("runner_on_ok", 8, "ok: [h2]"))
    assert not unchanged.changed


def test_the_search_finds_a_secret_in_every_form_it_looks_for(tmp_path: Path) -> None:
    # The lab test's "zero hits" means something only if the search finds what is there.
    secret = "7f3c9a1e5b2d4c6a8e0f1a2b3c4d5e6f"
    forms = SecretForms({"token": secret})
    for prefix in (b"", b"x", b"xy", b"Bearer "):
        wrapped = base64.b64encode(prefix + secret.encode() + b" trailing bytes")
        assert {h.form for h in scan_bytes("b64", wrapped, forms)} & {f"base64+{i}" for i in range(3)}, prefix
        urlsafe = base64.urlsafe_b64encode(prefix + secret.encode() + b"~~")
        assert scan_bytes("url", urlsafe, forms), prefix
    (tmp_path / "deep" / "er").mkdir(parents=True)
    (tmp_path / "deep" / "er" / "db.sqlite").write_bytes(b"\0\1" + secret.encode().hex().encode() + b"\0")
    (tmp_path / "clean.log").write_text("nothing to see " * 100)
    hits, files, _ = scan_paths([tmp_path], forms)
    assert [(Path(h.where).name, h.form) for h in hits] == [("db.sqlite", "hex")] and files == 2
    assert scan_bytes("near miss", secret[:-1].encode() + b"0", forms) == []


_VAULT_REFERENCE = re.compile(r"\{\{[^}]*\bvault_\w+")
_TASK_LISTS = ("tasks", "pre_tasks", "post_tasks", "handlers", "block", "rescue", "always")


def _tasks(node: object) -> Iterator[dict[str, Any]]:
    """Yield every task of a playbook or task file, blocks opened, plays and blocks themselves left out."""
    if isinstance(node, list):
        for item in node:
            yield from _tasks(item)
    elif isinstance(node, dict):
        nested = [key for key in _TASK_LISTS if key in node]
        if not nested and "hosts" not in node and "import_playbook" not in node:
            yield node
        for key in nested:
            yield from _tasks(node[key])


@pytest.mark.reliability("no_log on secret tasks")
def test_every_task_that_uses_a_vault_secret_runs_with_no_log(record_property: Any) -> None:
    # Vault variables are named vault_* (kubespray's convention, inventory/*/group_vars/all/vault.yml); a task that
    # puts one in its arguments prints it in its result, its diff or its failure unless no_log hides them.
    files = sorted(
        {*REPO.glob("playbooks/**/*.yml"), *REPO.glob("runbooks/**/*.yml"), *REPO.glob("tests/lab/data/**/*.yml")}
    )
    users, exposed = [], []
    for path in files:
        for task in _tasks(yaml.safe_load(path.read_text())):
            arguments = {key: value for key, value in task.items() if key not in ("name", "when")}
            if _VAULT_REFERENCE.search(yaml.safe_dump(arguments)):
                users.append(f"{path.relative_to(REPO)}: {task.get('name')}")
                if task.get("no_log") is not True:
                    exposed.append(users[-1])
    record_property("cases", len(users))
    record_property(
        "observed", f"{len(users)} tasks in {len(files)} playbooks use a vault secret; {len(exposed)} without no_log"
    )
    assert users, "no task uses a vault secret: the test playbook tests/lab/data/playbooks/secret.yml should"
    assert exposed == [], f"tasks that use a vault secret without no_log: true: {exposed}"
