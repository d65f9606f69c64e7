"""Run testinfra checks against inventory hosts and return typed per-host, per-check results.

Checks only read hosts. They run in a pytest subprocess (so a check module is an ordinary testinfra module
that also runs by hand), hosts spread over xdist workers with each host's checks kept on one worker, and the
outcome of every check on every host comes back through the plugin's JSON-lines report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from itpm.errors import ChecksError, ExecutionError
from itpm.execution.runner import new_run_id
from itpm.inventory import Inventory
from itpm.models.results import CheckOutcome, CheckResult, HostChecks, VerificationResult
from itpm.settings import Settings
from itpm.verification.handed_inventory import handed_inventory

__all__ = ["parse_check_report", "verify", "worker_count"]

# Measured with bench/verify.py (docs/performance.md) on 2 cores: each xdist worker is a new interpreter that
# imports everything (and then parsed the inventory again; it is handed the run's since), so up to about a dozen
# hosts one process is fastest (10 hosts: 3.4 s alone, 4.4 s with 4 workers); at 50 hosts 2 workers took 12.9 s,
# 4 took 13.4 s, none or 8 took 17.1 s. Beyond the serial range, one worker per core, at most 4.
_SERIAL_UP_TO = 12
_MAX_WORKERS = 4
_PYTEST_EXIT_TESTS_FAILED = 1
_PYTEST_EXIT_NO_TESTS = 5


def worker_count(hosts: int, cores: int | None = None) -> int:
    """Return how many pytest-xdist workers to use for ``hosts`` hosts: 0 (one process) up to a dozen hosts."""
    if hosts <= _SERIAL_UP_TO:
        return 0
    return min(hosts, max(2, cores or os.cpu_count() or 2), _MAX_WORKERS)


def verify(
    checks: Sequence[Path],
    inventory: Inventory,
    settings: Settings,
    *,
    limit: str = "all",
    run_id: str | None = None,
    workers: int | None = None,
    extra_vars: Mapping[str, Any] | None = None,
) -> VerificationResult:
    """Run the check modules or directories ``checks`` on the hosts ``limit`` selects.

    ``workers`` is the number of pytest-xdist workers: None picks ``worker_count(len(hosts))``, 0 runs every
    check in the one pytest process (no xdist). ``extra_vars`` reach the checks merged over each host's
    inventory vars in the ``host_vars`` fixture, as extra vars override inventory vars in Ansible.

    Returns e.g. ``VerificationResult(hosts={'h1': HostChecks(checks=(CheckResult(outcome=passed), ...))})``.
    Raises ChecksError when a check path is missing or holds no checks, ExecutionError when pytest breaks.
    """
    missing = [str(p) for p in checks if not p.exists()]
    if missing:
        raise ChecksError(
            f"check path {', '.join(missing)} does not exist",
            fix="give check modules or directories under checks/, e.g. checks/baseline",
        )
    hosts = inventory.select(limit)
    run_dir = settings.runs_dir / (run_id or new_run_id("verify"))
    run_dir.mkdir(parents=True, exist_ok=True)
    report = run_dir / "checks.jsonl"
    report.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "itpm.verification.pytest_plugin",
        "-p",
        "no:cacheprovider",
        "-q",
        "--no-header",
        # itpm takes each check's outcome and message from its plugin; the long traceback pytest builds for every
        # failure by default is read by nobody and costs a first audit of fresh hosts (bench/failure_formatting.py:
        # 0.65 of the time at 600 failures). One line per failure still says where, in pytest.log.
        "--tb=line",
        "-o",
        "addopts=",
        f"--hosts={','.join(f'itpm://{h}' for h in hosts)}",
        f"--ansible-inventory={inventory.path}",
        f"--itpm-report={report}",
        *[str(p.resolve()) for p in checks],
    ]
    if extra_vars:
        variables = run_dir / "extra-vars.json"
        variables.write_text(json.dumps(dict(extra_vars)))
        command.append(f"--itpm-vars={variables}")
    if workers is None:
        workers = worker_count(len(hosts))
    if workers:
        command += ["-n", str(workers), "--dist", "loadgroup"]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **_checks_environment(settings)}
    started = time.monotonic()
    # The checks' processes read this inventory, not another `ansible-inventory` each (handed_inventory.py).
    with handed_inventory(inventory) as handed:
        done = subprocess.run(command, capture_output=True, text=True, check=False, env={**env, **handed})
    duration = time.monotonic() - started
    (run_dir / "pytest.log").write_text(done.stdout + done.stderr)
    if done.returncode == _PYTEST_EXIT_NO_TESTS:
        raise ChecksError(f"no checks found in {', '.join(map(str, checks))}", fix="check modules are named test_*.py")
    lines = report.read_text().splitlines() if report.exists() else []
    if done.returncode not in (0, _PYTEST_EXIT_TESTS_FAILED) or not lines:
        tail = "\n  ".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise ExecutionError(
            f"pytest could not run the checks (exit {done.returncode}):\n  {tail}",
            fix=f"fix the check module named above; full output in {run_dir / 'pytest.log'}",
        )
    return VerificationResult(checks=tuple(checks), duration_s=duration, hosts=parse_check_report(lines, hosts))


# The settings the checks' pytest process reads back with Settings() (itpm/verification/backend.py): the per-host
# bounds of its connections, and the vault password file its inventory view decrypts vault vars with.
_CHECKS_SETTINGS = ("check_timeout", "ssh_keepalive_interval", "ssh_keepalive_count", "vault_password_file")


def _checks_environment(settings: Settings) -> dict[str, str]:
    """Return the run's settings the checks read, as the ITPM_* variables Settings() reads them from.

    >>> _checks_environment(Settings(check_timeout=30))["ITPM_CHECK_TIMEOUT"]
    '30'
    """
    prefix = Settings.model_config.get("env_prefix", "")
    values = {name: getattr(settings, name) for name in _CHECKS_SETTINGS}
    return {f"{prefix}{name.upper()}": str(value) for name, value in values.items() if value is not None}


def parse_check_report(lines: Iterable[str], hosts: Sequence[str]) -> dict[str, HostChecks]:
    """Group the plugin's JSON lines into one ``HostChecks`` per host, in the order of ``hosts``."""
    per_host: dict[str, list[CheckResult]] = {h: [] for h in hosts}
    for line in lines:
        if line.strip():
            data = json.loads(line)
            result = CheckResult(
                check=data["check"],
                host=data["host"],
                outcome=CheckOutcome(data["outcome"]),
                message=data.get("message", ""),
                duration_s=data.get("duration_s", 0.0),
            )
            per_host.setdefault(result.host, []).append(result)
    return {h: HostChecks(host=h, checks=tuple(sorted(c, key=lambda r: r.check))) for h, c in per_host.items()}
