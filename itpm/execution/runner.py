"""Run playbooks with ansible-runner: the only part of itpm that changes hosts.

``run_playbook`` applies a playbook to the hosts a pattern selects, streams every event to a callback as it
happens, and returns a per-host ``PlaybookResult``. ``plan_playbook`` is the same in check mode with diffs:
nothing changes, and each host's ``changes`` is its plan.

The host pattern is resolved by ``itpm.inventory`` and handed to Ansible as an explicit host list, so what
Ansible changes is exactly what itpm reported it would.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import ansible_runner

from itpm.errors import PlaybookError
from itpm.executables import path_with_bin_dir
from itpm.execution.connection import close_control_masters, tuning_for
from itpm.execution.events import AnsibleEvent, parse_event, summarize_hosts
from itpm.inventory import Inventory
from itpm.models.results import PlaybookResult
from itpm.settings import Settings

__all__ = ["EventCallback", "new_run_id", "plan_playbook", "run_playbook"]

log = logging.getLogger(__name__)

EventCallback = Callable[[AnsibleEvent], None]
_RUN_MARKER = "ITPM_ANSIBLE_RUN"


def new_run_id(prefix: str = "run") -> str:
    """Return a fresh run id, sortable by time: ``'run-20261121T231502-3f9a1c'``."""
    return f"{prefix}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"


def run_playbook(
    playbook: Path,
    inventory: Inventory,
    settings: Settings,
    *,
    limit: str = "all",
    check: bool = False,
    diff: bool = False,
    extravars: Mapping[str, Any] | None = None,
    on_event: EventCallback | None = None,
    run_id: str | None = None,
) -> PlaybookResult:
    """Run ``playbook`` on the hosts ``limit`` selects; return every selected host's result.

    Raises PlaybookError for a missing playbook or one Ansible cannot load, InventoryError for a pattern that
    selects nothing. A host that fails or cannot be reached is in the result, not raised.
    """
    if not playbook.is_file():
        raise PlaybookError(
            f"playbook {playbook} does not exist",
            fix="give the path of a playbook file, e.g. playbooks/baseline.yml",
        )
    hosts = inventory.select(limit)
    run_id = run_id or new_run_id("check" if check else "apply")
    tuning = tuning_for(settings, len(hosts), run_id)
    events: list[AnsibleEvent] = []

    def handle(raw: dict[str, Any]) -> bool:
        event = parse_event(raw)
        events.append(event)
        if on_event is not None:
            try:
                on_event(event)
            except Exception:  # a broken observer must never break a rollout
                log.exception("event callback failed on %s event %d", event.kind, event.counter)
        return True  # keep the event in ansible-runner's artifacts too

    cmdline = " ".join(flag for flag, wanted in (("--check", check), ("--diff", diff or check)) if wanted)
    private_data_dir = settings.runs_dir / run_id
    private_data_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        runner = ansible_runner.run(
            private_data_dir=str(private_data_dir),
            ident=run_id,
            playbook=str(playbook.resolve()),
            inventory=str(inventory.path),
            limit=",".join(hosts),
            cmdline=cmdline or None,
            extravars=dict(extravars or {}),
            envvars={**tuning.environment(), "PATH": path_with_bin_dir(), _RUN_MARKER: run_id},
            event_handler=handle,
            quiet=True,
            timeout=settings.ansible_timeout,
        )
    finally:
        # mitogen's helpers can outlive a killed run in their own sessions (LAB-NOTES); end them all. SSH masters
        # hide from that marker (setproctitle), so they are found by this run's own ControlPath directory.
        _end_run_processes(run_id)
        close_control_masters(tuning.control_dir)
        shutil.rmtree(tuning.control_dir, ignore_errors=True)
    # runner.stdout opens a new file handle on every access; read the artifact once instead.
    stdout_file = Path(runner.config.artifact_dir) / "stdout"
    stdout_tail = tuple(stdout_file.read_text(errors="replace").splitlines()[-20:]) if stdout_file.exists() else ()
    if runner.rc != 0 and not any(e.host for e in events):
        raise PlaybookError(
            f"ansible-playbook could not run {playbook} (exit {runner.rc}):\n  "
            + "\n  ".join(line for line in stdout_tail if line.strip()),
            fix="fix the playbook at the place Ansible names (syntax, a missing role or variable)",
        )
    return PlaybookResult(
        run_id=run_id,
        playbook=playbook,
        check_mode=check,
        strategy=tuning.strategy,
        strategy_note=tuning.fallback_reason,
        runner_status=str(runner.status),
        rc=int(runner.rc),
        duration_s=time.monotonic() - started,
        hosts=summarize_hosts(events, hosts),
        stdout_tail=stdout_tail,
    )


def plan_playbook(
    playbook: Path,
    inventory: Inventory,
    settings: Settings,
    *,
    limit: str = "all",
    extravars: Mapping[str, Any] | None = None,
    on_event: EventCallback | None = None,
) -> PlaybookResult:
    """Run ``playbook`` in check mode with diffs: changes nothing; ``result.plan`` is each host's plan."""
    return run_playbook(
        playbook,
        inventory,
        settings,
        limit=limit,
        check=True,
        diff=True,
        extravars=extravars,
        on_event=on_event,
    )


def _end_run_processes(run_id: str) -> None:
    """SIGKILL every process still carrying this run's marker in its environment."""
    marker = f"{_RUN_MARKER}={run_id}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                os.kill(int(proc.name), signal.SIGKILL)
        except (OSError, ValueError):
            continue
