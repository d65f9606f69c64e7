"""The ledger runs as its own user, listens on ``ledger_port``, answers as this host, and keeps its data on disk."""

from __future__ import annotations

import json
from typing import Any

from testinfra.host import Host

LEDGER_USER = "ledger"  # the system user roles/ledger creates and runs the service as


def test_ledger_runs_as_ledger_user(host: Host) -> None:
    commands = [p.args for p in host.process.filter(comm="python3", user=LEDGER_USER)]
    assert any("/usr/local/bin/ledger" in command for command in commands), (
        f"the ledger service is not running as user {LEDGER_USER} (its python3 processes: {commands})"
    )


def test_ledger_listening(host: Host, host_vars: dict[str, Any]) -> None:
    port = host_vars["ledger_port"]
    assert host.socket(f"tcp://0.0.0.0:{port}").is_listening, f"nothing listens on tcp port {port} (ledger_port)"


def test_ledger_health_answers_as_this_host(host: Host, host_vars: dict[str, Any]) -> None:
    url = f"http://127.0.0.1:{host_vars['ledger_port']}/health"
    answer = host.run("curl -fsS --max-time 5 %s", url)
    assert answer.rc == 0, f"GET {url} failed: {answer.stderr.strip()}"
    health = json.loads(answer.stdout)
    assert health.get("host") == host_vars["inventory_hostname"], (
        f"the ledger says it is {health.get('host')!r}, expected {host_vars['inventory_hostname']!r}"
    )


def test_ledger_database_owned_by_ledger_user(host: Host, host_vars: dict[str, Any]) -> None:
    path = f"{host_vars['ledger_data_dir']}/ledger.db"
    database = host.file(path)
    assert database.is_file, f"the ledger database {path} is missing"
    assert database.user == LEDGER_USER, f"{path} is owned by {database.user}, expected {LEDGER_USER}"
