"""The status daemon runs as the service account, listens on its port, and answers with the host's name."""

from __future__ import annotations

import json
from typing import Any

from testinfra.host import Host


def test_statusd_runs_as_service_account(host: Host, host_vars: dict[str, Any]) -> None:
    daemons = host.process.filter(comm="python3", user=host_vars["baseline_service_account"])
    commands = [p.args for p in daemons]
    assert any("itpm-statusd" in c for c in commands), (
        f"itpm-statusd is not running as {host_vars['baseline_service_account']}"
    )


def test_statusd_listening(host: Host, host_vars: dict[str, Any]) -> None:
    port = host_vars["baseline_status_port"]
    assert host.socket(f"tcp://0.0.0.0:{port}").is_listening, f"nothing listens on tcp port {port}"


def test_statusd_answers_with_hostname(host: Host, host_vars: dict[str, Any]) -> None:
    port = host_vars["baseline_status_port"]
    answer = host.run(f"curl -fsS --max-time 5 http://127.0.0.1:{port}/")
    assert answer.rc == 0, f"GET http://127.0.0.1:{port}/ failed: {answer.stderr.strip()}"
    status = json.loads(answer.stdout)
    assert status["host"] == host_vars["inventory_hostname"], (
        f"itpm-statusd says it is {status['host']!r}, expected {host_vars['inventory_hostname']!r}"
    )
