"""Run playbooks with ansible-runner: the only part of itpm that changes hosts.

``run_playbook`` applies a playbook to the hosts a pattern selects, streams every event to a callback as it
happens, and returns a per-host ``PlaybookResult``. ``plan_playbook`` is the same in check mode with diffs:
nothing changes, and each host's ``changes`` is its plan.

The host pattern is resolved by ``itpm.inventory`` and handed to Ansible as an explicit host list, so what
Ansible changes is exactly what itpm reported it would.

No secret of itpm's own reaches Ansible or the run's artifacts: Ansible inherits only the environment it needs
(``ansible_environment``). Secrets for playbooks come from Ansible Vault (itpm/vault.py), and tasks that handle
them run with ``no_log``, so that Ansible's output and events hide them.

Ctrl-C and SIGTERM during a playbook end Ansible, then raise ``itpm.interrupts.Interrupted``; the signal handlers
in force before a playbook are in force after it.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import ansible_runner
from ansible_runner.config.runner import RunnerConfig

from itpm.errors import PlaybookError
from itpm.executables import path_with_bin_dir
from itpm.execution.connection import close_control_masters, tuning_for
from itpm.execution.events import AnsibleEvent, parse_event, summarize_hosts
from itpm.execution.extra_vars import write_extra_vars
from itpm.interrupts import deferred_signals, raise_if_stop_requested, stop_on_signals, stop_requested
from itpm.inventory import Inventory
from itpm.models.results import PlaybookResult
from itpm.settings import Settings
from itpm.vault import vault_environment

__all__ = [
    "EventCallback",
    "ansible_environment",
    "end_processes_of",
    "kill_marked_processes",
    "new_run_id",
    "plan_playbook",
    "run_playbook",
]

log = logging.getLogger(__name__)

EventCallback = Callable[[AnsibleEvent], None]
_RUN_MARKER = "ITPM_ANSIBLE_RUN"
# How often ansible-runner asks whether to cancel (its pexpect timeout; 5 s by default): the most a Ctrl-C waits
# for Ansible to be ended.
_CANCEL_POLL_S = 0.5
# How long a SIGKILLed process may take to exit before kill_marked_processes gives up waiting for it.
_EXIT_WAIT_S = 5.0
# Names the project run a playbook run works for, so that a resumed run can end what its killed predecessor left
# running: ansible-runner starts Ansible in a session of its own, ignoring SIGHUP, so a SIGKILL of the flow's
# process group leaves it carrying on with its hosts.
_OWNER_MARKER = "ITPM_ANSIBLE_OWNER"
# What Ansible may inherit from itpm's environment: locale, home and user, terminal, temporary and ssh-agent paths,
# and Ansible's and Python's own settings. ansible-runner writes a run's whole environment into its artifacts
# (artifacts/<run>/command), and itpm's environment holds secrets (ITPM_SMTP_PASSWORD, a webhook token or a webhook
# address read from the environment, cloud credentials): everything else stays behind.
_INHERITED = frozenset(
    {"HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TERM", "TMPDIR", "SSH_AUTH_SOCK", "VIRTUAL_ENV"}
)
_INHERITED_PREFIXES = ("ANSIBLE_", "LC_", "PYTHON", "MITOGEN_")
_SECRET_NAME = re.compile(r"PASSWORD|PASSWD|PASSPHRASE|TOKEN|SECRET|CREDENTIAL|_KEY$", re.IGNORECASE)


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
    owner: str = "",
) -> PlaybookResult:
    """Run ``playbook`` on the hosts ``limit`` selects; return every selected host's result.

    ``owner`` (a project run id) marks Ansible's processes so that ``end_processes_of(owner)`` finds them.

    Raises PlaybookError for a missing playbook or one Ansible cannot load, InventoryError for a pattern that
    selects nothing. A host that fails or cannot be reached is in the result, not raised.

    Raises Interrupted (``run_id=owner``) when SIGINT or SIGTERM came during the run, or a stop was requested
    before it (``itpm.interrupts``): only once Ansible has ended, with every event it sent passed to ``on_event``.
    The signal handlers in force before the call are in force after it.
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
    # The keepalive bounds first: a caller's own extra vars win. Written as data (`!unsafe`): ansible-runner's own
    # `extravars=` would hand Ansible text it renders as templates (see itpm/execution/extra_vars.py).
    write_extra_vars(private_data_dir, {**tuning.connection_vars(), **dict(extravars or {})})
    started = time.monotonic()
    # Our handlers for the run, whoever called: given a cancel_callback, ansible-runner installs none of its own
    # (it used to, for good, and ignored every later Ctrl-C and SIGTERM). A signal during the run is deferred:
    # Ansible is ended first (the callback is polled every _CANCEL_POLL_S), then Interrupted is raised.
    with stop_on_signals(), deferred_signals():
        try:
            # A stop requested before this playbook (under the caller's stop_on_signals) starts nothing.
            raise_if_stop_requested(owner)
            runner = ansible_runner.run(
                private_data_dir=str(private_data_dir),
                ident=run_id,
                playbook=str(playbook.resolve()),
                inventory=str(inventory.path),
                limit=",".join(hosts),
                cmdline=cmdline or None,
                envvars={
                    **tuning.environment(),
                    **vault_environment(settings.vault_password_file),
                    "PATH": path_with_bin_dir(),
                    _RUN_MARKER: run_id,
                    **({_OWNER_MARKER: owner} if owner else {}),
                },
                settings={"pexpect_timeout": _CANCEL_POLL_S},
                event_handler=handle,
                status_handler=_leave_secrets_behind,
                cancel_callback=stop_requested,
                quiet=True,
                timeout=settings.ansible_timeout,
            )
        finally:
            # mitogen's helpers can outlive a killed run in their own sessions (LAB-NOTES); end them all. SSH
            # masters hide from that marker (setproctitle), so they are found by this run's own ControlPath dir.
            _end_run_processes(run_id)
            close_control_masters(tuning.control_dir)
            shutil.rmtree(tuning.control_dir, ignore_errors=True)
        # Ansible and its processes have ended: the stop it was cancelled for (in this thread or another) is raised
        # here, rather than a result of hosts that merely never finished.
        raise_if_stop_requested(owner)
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
    owner: str = "",
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
        owner=owner,
    )


def ansible_environment(environment: Mapping[str, str], inherited: Mapping[str, str]) -> dict[str, str]:
    """Return ``environment`` without what it inherited from ``inherited`` (itpm's own) that Ansible does not need.

    What itpm or ansible-runner set for the run is kept. Of the variables inherited unchanged, only the ones Ansible
    needs stay (``_INHERITED``), and none whose name says it holds a secret.

    >>> ansible_environment({"HOME": "/root", "ITPM_WEBHOOK_TOKEN": "t1", "ANSIBLE_FORKS": "5"},
    ...                     {"HOME": "/root", "ITPM_WEBHOOK_TOKEN": "t1"})
    {'HOME': '/root', 'ANSIBLE_FORKS': '5'}
    """

    def needed(name: str) -> bool:
        return (name in _INHERITED or name.startswith(_INHERITED_PREFIXES)) and not _SECRET_NAME.search(name)

    return {
        name: value
        for name, value in environment.items()
        if inherited.get(name) != value or needed(name)  # set for the run, or inherited and needed
    }


def _leave_secrets_behind(status: Mapping[str, Any], runner_config: RunnerConfig) -> None:
    """Cut the run's environment down to ``ansible_environment`` as the run starts.

    ansible-runner seeds a run's environment with all of ``os.environ`` and reports 'starting'; only then does it
    write that environment to ``artifacts/<run>/command`` and start Ansible with it. This is the moment to cut it.
    """
    if status.get("status") == "starting":
        runner_config.env = ansible_environment(runner_config.env, os.environ)


def end_processes_of(owner: str) -> int:
    """SIGKILL every process on this machine that a playbook run for project run ``owner`` left; return how many.

    A flow killed mid-playbook leaves Ansible running on (see ``_OWNER_MARKER``); its resumption calls this first,
    so that two Ansible runs of one project run never work on a host at once. Processes on other machines (a
    resumption elsewhere, with a shared PostgreSQL log) are out of reach: ``end_processes_of('r1') == 3``.
    """
    return kill_marked_processes(f"{_OWNER_MARKER}={owner}".encode()) if owner else 0


def _end_run_processes(run_id: str) -> None:
    """SIGKILL every process still carrying this run's marker in its environment."""
    kill_marked_processes(f"{_RUN_MARKER}={run_id}".encode())


def kill_marked_processes(marker: bytes) -> int:
    """SIGKILL every process (but this one) whose environment holds ``marker`` (``NAME=value``); return how many.

    Returns once they have exited (up to ``_EXIT_WAIT_S``): a process takes a moment to die after SIGKILL, and
    whoever called wants Ansible ended before it releases the hosts or starts another run on them.
    """
    killed: list[int] = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                os.kill(int(proc.name), signal.SIGKILL)
                killed.append(int(proc.name))
        except (OSError, ValueError):
            continue
    deadline = time.monotonic() + _EXIT_WAIT_S
    while any(map(_running, killed)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return len(killed)


def _running(pid: int) -> bool:
    """Return True while process ``pid`` exists and is not a zombie (dead, its exit status not yet read)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")
