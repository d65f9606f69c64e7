"""The ledger's name points at ``ledger_active_address`` and serves a record written before the failure.

``ledger_active_address`` and ``ledger_expected_record`` describe one recovery: the runbook passes them.
"""

from __future__ import annotations

import json
from typing import Any

from testinfra.host import Host


def _required(host_vars: dict[str, Any], name: str) -> Any:  # noqa: ANN401 # inventory values are untyped YAML
    value = host_vars.get(name)
    assert value not in (None, ""), f"{name} is not set: the runbook passes it as a var (nothing was checked)"
    return value


def test_ledger_name_resolves_to_active_address(host: Host, host_vars: dict[str, Any]) -> None:
    name = host_vars["ledger_service_name"]
    expected = str(_required(host_vars, "ledger_active_address"))
    answer = host.run("getent hosts %s", name)
    seen = [line.split()[0] for line in answer.stdout.splitlines() if line.strip()]
    assert answer.rc == 0 and seen, f"{name} does not resolve (getent hosts exit {answer.rc})"
    assert seen[0] == expected, f"{name} resolves to {seen[0]}, expected {expected} (ledger_active_address)"


def test_ledger_serves_record_written_before_failure(host: Host, host_vars: dict[str, Any]) -> None:
    record_id = str(_required(host_vars, "ledger_expected_record"))
    url = f"http://{host_vars['ledger_service_name']}:{host_vars['ledger_port']}/records/{record_id}"
    answer = host.run("curl -sS --max-time 5 --write-out '\\n%%{http_code}' %s", url)
    assert answer.rc == 0, f"GET {url} failed: {answer.stderr.strip()}"
    body, _, status = answer.stdout.rpartition("\n")
    assert status == "200", f"GET {url} answered {status}, expected 200 with record {record_id}: {body[:200]}"
    record = json.loads(body)
    assert record.get("id") == record_id, f"GET {url} answered a record with id {record.get('id')!r}"
