"""Secrets are used where they belong and written nowhere else; files under the state directory holding keys are 0600.

Five random secrets, from the three sources itpm takes credentials from: an API token in the inventory's Ansible
Vault (tests/lab/data/playbooks/secret.yml writes it on the hosts, with no_log) and the vault's password itself;
the webhook's bearer token and the webhook's address (``webhook:secret:ops-webhook-url``) from the environment;
the SMTP password from a Prefect Secret block. A project runs through the CLI twice, once to completion and once
halted by a failed task that handles the token (rolled back, halt notices, report). Then everything itpm wrote is
searched for every secret, plain, hex and base64: the state directory (project log, ansible-runner's private data
dirs, check runs, reports), the file drops, the Prefect server's home (its database, its log), the client's
Prefect home, the Prefect API's logs, artifacts, flow runs and task runs, every CLI output, and every notice.
The only places a secret may be are the hosts' token files and what the receivers were sent to authenticate.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from itpm.executables import executable
from itpm.log.events import HostApplied, HostVerified, NoticeSent, RunHalted
from itpm.prefect_server import client_environment, ensure_server, stop_server
from itpm.settings import Settings
from tests.receivers import Posted, free_port, http_receiver, smtp_server
from tests.secret_scan import Hit, SecretForms, scan_bytes, scan_paths

from .conftest import Lab
from .world import DATA, HOSTS, World, finished_status

HIDDEN = "the output has been hidden due to the fact that 'no_log: true' was specified for this result"
SMTP_USER = "itpm-mailer"
SAVE_SMTP_BLOCK = (
    "import os; from prefect.blocks.system import Secret; "
    "Secret(value=os.environ['SEEDED_SECRET']).save('itpm-smtp-password', overwrite=True)"
)


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """The module's own Prefect server, as `itpm server start` runs it; its home is searched like the rest."""
    settings = Settings(state_dir=tmp_path_factory.mktemp("prefect"), prefect_port=free_port())
    ensure_server(settings)
    yield settings
    stop_server(settings)


@pytest.fixture(scope="module")
def prefect_api(prefect_server: Settings) -> dict[str, str]:
    """Overrides conftest's: the same server, whose home this module needs to know."""
    return client_environment(prefect_server)


@dataclass
class SecretRuns:
    """Two runs of the token project and everything they produced that a person or a receiver can see."""

    world: World
    secrets: dict[str, str]  # what each secret is called in a failure message -> its value
    prefect_home: Path  # the Prefect server's database and log
    completed_id: str
    halted_id: str
    outputs: dict[str, str]  # each CLI command run -> its stdout and stderr
    token_files: dict[str, tuple[bool, int]]  # host -> (holds the vault token, mode), after the completed run
    webhook: list[Posted]
    mails: list[bytes]
    smtp_logins: list[tuple[str, str]]

    @property
    def forms(self) -> SecretForms:
        return SecretForms(self.secrets)


@pytest.fixture(scope="module")
def secret_runs(
    lab: Lab, prefect_api: dict[str, str], prefect_server: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SecretRuns]:
    root = tmp_path_factory.mktemp("secrets")
    world = World.fresh(lab, prefect_api, root)
    seeded = {
        name: secrets.token_hex(16)
        for name in ("vault token", "vault password", "webhook token", "webhook address", "smtp password")
    }
    password_file = root / "vault-password"
    password_file.touch(mode=0o600)
    password_file.write_text(seeded["vault password"] + "\n")
    subprocess.run(  # the plain text goes through a pipe: only the encrypted file is written
        [
            executable("ansible-vault"),
            "encrypt",
            "--vault-password-file",
            str(password_file),
            "--output",
            str(world.inventory_dir / "group_vars" / "all" / "vault.yml"),
        ],
        input=f"vault_lab_api_token: {seeded['vault token']}\n",
        text=True,
        check=True,
        capture_output=True,
    )
    outputs: dict[str, str] = {}

    def itpm(*args: str) -> subprocess.CompletedProcess[str]:
        done = world.itpm(*args)
        outputs[" ".join(args)] = done.stdout + done.stderr
        return done

    with contextlib.ExitStack() as receivers:
        ops = receivers.enter_context(http_receiver())
        mailbox = receivers.enter_context(smtp_server(login=(SMTP_USER, seeded["smtp password"])))
        world.env.update(
            ITPM_VAULT_PASSWORD_FILE=str(password_file),
            ITPM_WEBHOOK_TOKEN=seeded["webhook token"],
            OPS_WEBHOOK_URL=f"{ops.url}/hooks/{seeded['webhook address']}",
            ITPM_SMTP_HOST="127.0.0.1",
            ITPM_SMTP_PORT=str(mailbox.port),
            ITPM_SMTP_USER=SMTP_USER,
            ITPM_SMTP_FROM="itpm@example.com",
            PREFECT_HOME=str(root / "prefect-client"),  # the runs' own, so that what they keep there is searched
        )
        world.env.pop("ITPM_SMTP_PASSWORD", None)  # from the Prefect Secret block only
        subprocess.run(
            [sys.executable, "-c", SAVE_SMTP_BLOCK],
            env={**world.env, "SEEDED_SECRET": seeded["smtp password"]},
            check=True,
            capture_output=True,
            timeout=120,
        )
        project = _token_project(world)

        completed = itpm("run", str(project), "--as", "dana")
        assert completed.returncode == 0, completed.stdout + completed.stderr
        (completed_id,) = world.log.run_ids()
        expected = hashlib.sha256(f"{seeded['vault token']}\n".encode()).hexdigest()
        token_files = {}
        for host in HOSTS:
            token_file = lab.host(host).file("/etc/itpm-secret")
            token_files[host] = (token_file.sha256sum == expected, token_file.mode)

        world.host_var("h2", secret_rejected=True)  # h2's "service" refuses the token: the task fails
        halted = itpm("run", str(project), "--as", "dana")
        assert halted.returncode == 1, halted.stdout + halted.stderr
        (halted_id,) = set(world.log.run_ids()) - {completed_id}
    for run_id in (completed_id, halted_id):
        for command in ("log", "status", "report"):
            shown = itpm(command, run_id)
            assert shown.returncode in (0, 1), shown.stdout + shown.stderr
    try:
        yield SecretRuns(
            world=world,
            secrets=seeded,
            prefect_home=prefect_server.prefect_home,
            completed_id=completed_id,
            halted_id=halted_id,
            outputs=outputs,
            token_files=token_files,
            webhook=ops.posted,
            mails=[envelope.content for envelope, _ in mailbox.mails if isinstance(envelope.content, bytes)],
            smtp_logins=mailbox.logins,
        )
    finally:
        for host in HOSTS:
            lab.host(host).run("rm -f /etc/itpm-secret")


def _token_project(world: World) -> Path:
    """Write the project whose one step puts the vault token on all 5 hosts in one batch; tell 3 stakeholders."""
    path = world.project(
        "token",
        batch_size="100%",
        stakeholders=[
            {
                "name": "Ops",
                "role": "operations",
                "wants": ["halts", "completion"],
                "channel": "webhook:secret:ops-webhook-url",
            },
            {
                "name": "CAB",
                "role": "change board",
                "wants": ["halts", "completion"],
                "channel": "email:cab@example.com",
            },
            {
                "name": "PMO",
                "role": "pmo",
                "wants": ["phase_changes", "halts"],
                "channel": f"file:{world.root / 'pmo'}",
            },
        ],
    )
    document = yaml.safe_load(path.read_text())
    document["steps"][0].update(
        name="token",
        playbook=str(DATA / "playbooks" / "secret.yml"),
        checks=[str(DATA / "secret_checks")],
        rollback=str(DATA / "playbooks" / "secret-rollback.yml"),
    )
    path.write_text(yaml.safe_dump(document))
    return path


def _prefect_records(api: str) -> dict[str, list[Any]]:
    """Return every log, artifact, flow run and task run the Prefect API holds, page by page."""
    records: dict[str, list[Any]] = {}
    with httpx.Client(base_url=api, timeout=30) as client:
        for kind in ("logs", "artifacts", "flow_runs", "task_runs"):
            records[kind] = []
            while True:
                page = client.post(f"/{kind}/filter", json={"offset": len(records[kind]), "limit": 200})
                page.raise_for_status()
                if not page.json():
                    break
                records[kind] += page.json()
    return records


@pytest.mark.reliability("secret in every output")
def test_no_secret_is_written_anywhere(
    secret_runs: SecretRuns, prefect_api: dict[str, str], record_property: Any
) -> None:
    runs, world = secret_runs, secret_runs.world
    # Each secret was used, so finding none below means something. The vault token reached every host and the
    # checks, which read it through the same decrypted inventory, passed there.
    assert runs.token_files == {host: (True, 0o600) for host in HOSTS}
    verified = [e for e in world.log.events(runs.completed_id, kinds=["host_verified"]) if isinstance(e, HostVerified)]
    assert sorted(e.host or "" for e in verified if e.passed) == HOSTS
    # The webhook was reached at its secret address, with its token, once per run (completion, then the halt).
    assert len(runs.webhook) == 2
    for posted in runs.webhook:
        assert posted.path == f"/hooks/{runs.secrets['webhook address']}"
        assert posted.headers["Authorization"] == f"Bearer {runs.secrets['webhook token']}"
    # The mail relay accepts only the password of the Prefect Secret block (the environment has none).
    assert len(runs.mails) == 2 and {user for _, user in runs.smtp_logins} == {SMTP_USER}
    notices = [e for r in (runs.completed_id, runs.halted_id) for e in world.log.events(r, kinds=["notice_sent"])]
    assert notices and all(isinstance(e, NoticeSent) and e.delivered for e in notices)
    assert finished_status(world, runs.halted_id) == "halted"

    forms = runs.forms
    roots = [world.root / "state", world.root / "pmo", runs.prefect_home, world.root / "prefect-client"]
    hits, files, size = scan_paths(roots, forms)
    assert (world.root / "state" / "reports" / f"{runs.halted_id}.html").is_file()
    assert len(list((world.root / "state" / "runs").rglob("job_events/*.json"))) > 50
    assert list(runs.prefect_home.glob("*.db")), "the Prefect server's database is not where it was looked for"
    prefect = _prefect_records(prefect_api["PREFECT_API_URL"])
    assert len(prefect["flow_runs"]) == 2 and prefect["logs"] and prefect["artifacts"]
    texts = {
        **{f"itpm {command}": output.encode() for command, output in runs.outputs.items()},
        **{f"Prefect API {kind}": json.dumps(records).encode() for kind, records in prefect.items()},
        **{f"webhook body {i}": posted.body for i, posted in enumerate(runs.webhook)},
        **{f"mail {i}": mail for i, mail in enumerate(runs.mails)},
    }
    for where, text in texts.items():
        hits += scan_bytes(where, text, forms)
    record_property("cases", len(runs.secrets))
    record_property(
        "observed",
        f"{len(runs.secrets)} secrets x {len(forms) // len(runs.secrets)} encodings searched in {files} files "
        f"({size // 1024} KiB), {len(texts)} outputs, notices and Prefect API listings "
        f"({sum(len(v) for v in prefect.values())} records): {len(hits)} hits",
    )
    assert hits == [], "secrets written where they must not be: " + "; ".join(_describe(h) for h in hits)


def _describe(hit: Hit) -> str:
    return f"{hit.secret} ({hit.form}) in {hit.where}"  # names only: a failing test must not print the secret


@pytest.mark.reliability("no_log on secret tasks")
def test_a_failed_task_that_handles_a_secret_shows_only_that_its_output_was_hidden(
    secret_runs: SecretRuns, record_property: Any
) -> None:
    runs, world = secret_runs, secret_runs.world
    applied = [e for e in world.log.events(runs.halted_id, kinds=["host_applied"]) if isinstance(e, HostApplied)]
    failed = {e.host: (e.failed_task, e.message) for e in applied if e.status == "failed"}
    assert failed == {"h2": ("Service accepts the API token", HIDDEN)}
    (halt,) = [e for e in world.log.events(runs.halted_id, kinds=["run_halted"]) if isinstance(e, RunHalted)]
    assert "h2" in halt.reason
    # Ansible's events of the failed task, as ansible-runner keeps them, hold nothing but that sentence.
    run_dirs = sorted((world.root / "state" / "runs").glob("*/artifacts/*/job_events"))
    failures = [
        event["event_data"]["res"]
        for events in run_dirs
        for path in events.glob("*.json")
        if (event := json.loads(path.read_text()))["event"] == "runner_on_failed"
    ]
    assert failures == [{"censored": HIDDEN}]
    # A hidden result still counts as a change: the token file was new on every host in the completed run.
    first = [e for e in world.log.events(runs.completed_id, kinds=["host_applied"]) if isinstance(e, HostApplied)]
    assert {e.host: e.changed_tasks for e in first} == dict.fromkeys(HOSTS, 1)
    record_property("observed", "h2's failed no_log task logged as 'output hidden'; its event holds only that")


@pytest.mark.reliability("key files mode 0600")
def test_files_holding_keys_or_secrets_are_mode_0600(secret_runs: SecretRuns, lab: Lab, record_property: Any) -> None:
    # After `lab up` (the session lab), two runs and a Prefect server of itpm's own: every file under those state
    # directories that holds a private key, Prefect's block encryption key, or a seeded secret.
    forms = secret_runs.forms
    roots = [lab.settings.state_dir, secret_runs.world.root / "state", secret_runs.prefect_home]
    holding: dict[Path, int] = {}
    for root in roots:
        for path in root.rglob("*"):
            if path.is_symlink() or not path.is_file():
                continue
            with contextlib.suppress(FileNotFoundError):  # a journal removed while the walk ran
                data = path.read_bytes()
                if b"PRIVATE KEY" in data or b"fernet_key" in data or scan_bytes(str(path), data, forms):
                    holding[path] = stat.S_IMODE(path.stat().st_mode)
    names = {path.name for path in holding}
    assert "id_ed25519" in names and "ssh_host_ed25519_key" in names and "prefect.db" in names, sorted(names)
    assert stat.S_IMODE(secret_runs.prefect_home.stat().st_mode) == 0o700
    loose = {str(path): f"{mode:04o}" for path, mode in holding.items() if mode != 0o600}
    record_property("cases", len(holding))
    record_property("observed", f"{len(holding)} files hold keys or secrets; {len(loose)} not mode 0600")
    assert loose == {}, f"files holding keys or secrets that are not mode 0600: {loose}"
