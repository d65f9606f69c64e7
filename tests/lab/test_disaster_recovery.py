"""The ledger database's backups and its on-call runbook on a lab of their own, ending in a real kill.

The primary's namespace is killed like a power loss; `itpm recover` restores service on the standby and the
project log holds RTO (from the kill) and RPO (age of the restored backup).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from itpm.execution.runner import run_playbook
from itpm.lab import faults
from itpm.log.events import RecoveryMeasured, RecoveryStep

from .conftest import REPO, own_lab
from .it_projects import Site

MARKER = "before-the-failure"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, prefect_api: dict[str, str]) -> Iterator[Site]:
    base = tmp_path_factory.mktemp("dr")
    with own_lab(base, "d", 5) as lab:
        yield Site(lab, base, prefect_api)


def _write_record(site: Site, record: str) -> None:
    body = json.dumps({"id": record, "value": "payment 42"})
    site.lab.host("h1").check_output(
        f"curl -fsS -X POST -H 'Content-Type: application/json' -d '{body}' http://{site.address('h3')}:5480/records"
    )


def _measured(site: Site, run_id: str) -> RecoveryMeasured:
    (measured,) = site.log.events(run_id, kinds=["recovery_measured"])
    assert isinstance(measured, RecoveryMeasured)
    return measured


def test_backups_then_a_drill_then_a_real_failover(site: Site) -> None:
    backup = site.copy("projects/ledger-backup.yaml")
    first = site.itpm("run", str(backup), "--as", "dana")
    assert first.returncode == 0, first.stdout + first.stderr
    _write_record(site, MARKER)
    second = site.itpm("run", str(backup), "--as", "dana")  # the scheduled run after the write
    assert second.returncode == 0, second.stdout + second.stderr
    backed_up = datetime.now(UTC)

    runbook = site.copy("runbooks/db-primary.yaml")
    expect = ["--var", f"ledger_expected_record={MARKER}"]

    # While the primary answers, the runbook refuses to fail over and says what to do instead.
    refused = site.itpm("recover", str(runbook), "--as", "oncall", *expect)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "do NOT fail over" in " ".join(refused.stderr.split())

    # A drill restores on the standby only: the primary still serves and the clients still point at it.
    drill = site.itpm("recover", str(runbook), "--drill", "--as", "oncall", *expect)
    assert drill.returncode == 0, drill.stdout + drill.stderr
    drill_run = site.log.run_ids()[-1]
    rehearsed = _measured(site, drill_run)
    assert rehearsed.drill and rehearsed.met
    assert [e.step for e in site.log.events(drill_run, kinds=["recovery_step"])] == ["restore"]
    assert site.lab.host("h1").run(f"curl -fsS --max-time 3 http://{site.address('h3')}:5480/health").rc == 0

    # The failure: the primary's namespace dies mid-service, like a power loss.
    killed_at = datetime.now(UTC)
    faults.kill_host(site.lab.name, "h3")
    time.sleep(1)
    recovered = site.itpm("recover", str(runbook), "--as", "oncall", "--triggered-at", killed_at.isoformat(), *expect)
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    run_id = site.log.run_ids()[-1]
    steps = [e for e in site.log.events(run_id, kinds=["recovery_step"]) if isinstance(e, RecoveryStep)]
    assert [(s.step, s.status) for s in steps] == [
        ("confirm-down", "done"),
        ("fence", "done"),
        ("restore", "done"),
        ("move-address", "done"),
        ("verify", "done"),
    ]
    measured = _measured(site, run_id)
    elapsed = (datetime.now(UTC) - killed_at).total_seconds()
    assert 0 < measured.rto_s <= elapsed and measured.met
    # The restored backup is the one taken after the marker was written: younger than the time since then.
    assert 0 <= measured.rpo_s <= (killed_at - backed_up).total_seconds() + 120
    assert "RTO" in recovered.stdout and "targets met" in recovered.stdout
    client = site.lab.host("h1")
    assert client.check_output("getent hosts ledger.lab.example.internal").split()[0] == site.address("h4")
    assert MARKER in client.check_output(f"curl -fsS http://ledger.lab.example.internal:5480/records/{MARKER}")

    # Idempotence of the restore: running it again on the standby changes nothing.
    again = run_playbook(
        REPO / "playbooks" / "ledger-restore.yml",
        site.lab.inventory,
        site.lab.settings,
        limit="h4",
        extravars={"ledger_primary": "h3", "ledger_standby": "h4", "ledger_backup_host": "h5"},
    )
    assert again.succeeded and not again.changed, again.changed
