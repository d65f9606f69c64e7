"""The monitoring agent runs as its own account, listens on ``hw_monitoring_port`` and serves this host's metrics."""

from __future__ import annotations

from typing import Any

from testinfra.host import Host


def test_monagent_runs_as_its_account(host: Host, host_vars: dict[str, Any]) -> None:
    account = host_vars["hw_monitoring_account"]
    owners = sorted({p.user for p in host.process.filter(comm="python3") if "itpm-monagent" in p.args})
    assert owners, "itpm-monagent is not running"
    assert owners == [account], f"itpm-monagent runs as {', '.join(owners)}, expected {account} only"


def test_monagent_listening(host: Host, host_vars: dict[str, Any]) -> None:
    port = host_vars["hw_monitoring_port"]
    assert host.socket(f"tcp://0.0.0.0:{port}").is_listening, f"nothing listens on tcp port {port}"


def test_monagent_serves_metrics_of_this_host(host: Host, host_vars: dict[str, Any]) -> None:
    name = host_vars["inventory_hostname"]
    url = f"http://127.0.0.1:{host_vars['hw_monitoring_port']}/metrics"
    answer = host.run("curl -fsS --max-time 5 %s", url)
    assert answer.rc == 0, f"GET {url} failed: {answer.stderr.strip()}"
    samples = {line.rsplit(" ", 1)[0] for line in answer.stdout.splitlines() if line and not line.startswith("#")}
    assert f'itpm_host_info{{host="{name}"}}' in samples, (
        f"GET {url} has no itpm_host_info for {name} (it serves {sorted(samples)})"
    )
    disk = f'node_filesystem_avail_bytes{{mountpoint="{host_vars["hardware_spec"]["disk_path"]}"}}'
    wanted = {"node_load1", "node_memory_MemAvailable_bytes", disk}
    missing = wanted - samples
    assert not missing, f"GET {url} lacks {', '.join(sorted(missing))}"
