"""The host has its burn-in record (``hw_burn_in_record``) and both of its tests passed."""

from __future__ import annotations

import json
from typing import Any

from testinfra.host import Host


def test_burn_in_record_present_and_ok(host: Host, host_vars: dict[str, Any]) -> None:
    name = host_vars["inventory_hostname"]
    path = host_vars["hw_burn_in_record"]
    record_file = host.file(path)
    assert record_file.exists, f"{name} has no burn-in record {path}: run playbooks/hardware-burn-in.yml"
    try:
        record = json.loads(record_file.content_string)
    except json.JSONDecodeError:
        record = None
    assert isinstance(record, dict), f"{name}'s burn-in record {path} is not a JSON object"
    failed = []
    if record.get("disk_ok") is not True:
        failed.append(f"the disk test on {record.get('disk_path')} failed ({record.get('disk_error')})")
    if record.get("cpu_ok") is not True:
        failed.append(f"the CPU loop failed or miscalculated ({record.get('cpu_loop')})")
    assert not failed, f"{name}'s burn-in of {record.get('taken_at')} failed: " + "; ".join(failed)
