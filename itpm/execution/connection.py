"""How Ansible connects: the tuned settings itpm runs with, and the SSH masters they leave behind.

Measured on this machine (../shared/LAB-NOTES.md): the controller's CPU is the bottleneck, so what matters is
fewer processes per task. Pipelining and SSH connection reuse (ControlPersist) help the ``linear`` strategy;
the mitogen strategy, which keeps one Python interpreter per host for the whole run, was about 2.5x faster
again. itpm uses mitogen when it is installed and supports the installed ansible-core, and otherwise falls
back to ``linear`` with pipelining and ControlPersist. ``ITPM_ANSIBLE_STRATEGY`` forces either; when mitogen
is wanted but cannot be used, ``ConnectionTuning.fallback_reason`` says why, so a 2.5x slowdown is never silent.

Each run gets its own SSH ControlPath directory, closed when the run ends (``close_control_masters``). A master
that outlived its run would carry the next run's connections without a new host-key check: a host whose key
changed in between would be reached anyway (seen in CI, under the ``linear`` strategy). OpenSSH's masters cannot
be found by an environment marker either: setproctitle overwrites their environment.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from itpm.settings import Settings

__all__ = [
    "ConnectionTuning",
    "close_control_masters",
    "control_path_dir",
    "mitogen_strategy_dir",
    "tuning_for",
]


log = logging.getLogger(__name__)


def control_path_dir(settings: Settings) -> Path:
    """Return the root of all SSH ControlPath directories: inside the state dir, so teardown can find them."""
    return settings.state_dir / "ssh-control"


@functools.cache
def mitogen_strategy_dir() -> tuple[Path | None, str]:
    """Return the directory of mitogen's Ansible strategy plugins, or None and why mitogen cannot be used.

    Mitogen refuses ansible-core versions it does not support when its strategy loads, not when it is
    installed; the check loads it here, once per process, so that a mismatch falls back instead of failing
    the run. It runs in a fresh interpreter, as ansible-playbook will: imported into this process, Ansible's
    collection loader refuses to start once a second FileFinder path hook is present, and Prefect adds one when
    it runs a flow, so every playbook run inside a flow would silently have fallen back.
    """
    probe = (
        "import os, ansible_mitogen.loaders, ansible_mitogen; "
        "print(os.path.join(os.path.dirname(ansible_mitogen.__file__), 'plugins', 'strategy'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False, env=_clean_python_env()
    )
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return None, f"mitogen does not load: {lines[-1] if lines else f'exit {done.returncode}'}"
    strategy = Path(done.stdout.strip())
    if not (strategy / "mitogen_linear.py").exists():
        return None, f"mitogen has no mitogen_linear strategy in {strategy}"
    return strategy, ""


def _clean_python_env() -> dict[str, str]:
    """Return this process's environment without Python import settings a flow or test may have changed."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP", "PYTHONWARNINGS")}


@dataclass(frozen=True)
class ConnectionTuning:
    """Ansible settings for one run, rendered as environment variables by ``environment()``."""

    strategy: Literal["mitogen", "linear"]
    forks: int
    control_dir: Path  # this run's own ControlPath directory
    strategy_plugins: Path | None = None
    fallback_reason: str = ""  # why mitogen was wanted but not used; empty when it is used or not wanted
    task_timeout: int = 600  # seconds a task may run on a host before it fails there
    keepalive_interval: int = 5  # seconds between SSH keepalives ...
    keepalive_count: int = 3  # ... and how many may go unanswered before the connection is dropped

    def environment(self) -> dict[str, str]:
        """Return the ANSIBLE_* variables of this tuning.

        >>> ConnectionTuning("linear", 5, Path("/s/cp")).environment()["ANSIBLE_PIPELINING"]
        'True'
        """
        # OpenSSH takes the first value given for an option: these come before the inventory's ssh args and win.
        keepalive = f"-o ServerAliveInterval={self.keepalive_interval} -o ServerAliveCountMax={self.keepalive_count}"
        env = {
            "ANSIBLE_PIPELINING": "True",
            "ANSIBLE_HOST_KEY_CHECKING": "True",
            "ANSIBLE_FORKS": str(self.forks),
            "ANSIBLE_SSH_ARGS": f"-C -o ControlMaster=auto -o ControlPersist=60s {keepalive}",
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(self.control_dir),
            # Facts are gathered only where a play asks for them; the baseline needs none of them.
            "ANSIBLE_GATHERING": "explicit",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_TIMEOUT": "10",
            "ANSIBLE_TASK_TIMEOUT": str(self.task_timeout),
            "ANSIBLE_DEPRECATION_WARNINGS": "False",
            "ANSIBLE_NOCOLOR": "True",
        }
        if self.strategy == "mitogen" and self.strategy_plugins is not None:
            env["ANSIBLE_STRATEGY_PLUGINS"] = str(self.strategy_plugins)
            env["ANSIBLE_STRATEGY"] = "mitogen_linear"
        else:
            env["ANSIBLE_STRATEGY"] = "linear"
        return env

    def connection_vars(self) -> dict[str, int]:
        """Return the variables that bound a dead connection under mitogen, given to Ansible as extra vars.

        Mitogen starts its own ssh with its keepalive options before any ssh args, from these host variables
        only; unset, it waits 30 s x 10 (a link-down host hung a run for minutes). Extra vars win over the
        inventory's, as ``ANSIBLE_SSH_ARGS`` wins for OpenSSH.

        >>> ConnectionTuning("linear", 5, Path("/s/cp")).connection_vars()
        {'mitogen_ssh_keepalive_interval': 5, 'mitogen_ssh_keepalive_count': 3}
        """
        return {
            "mitogen_ssh_keepalive_interval": self.keepalive_interval,
            "mitogen_ssh_keepalive_count": self.keepalive_count,
        }


def tuning_for(settings: Settings, host_count: int, run_id: str = "manual") -> ConnectionTuning:
    """Return the tuning for run ``run_id`` on ``host_count`` hosts: forks sized to the batch, mitogen if usable."""
    forks = max(1, min(host_count, settings.max_forks))
    plugins, reason = None, ""
    if settings.ansible_strategy in ("auto", "mitogen"):
        plugins, reason = mitogen_strategy_dir()
        if reason:
            log.warning("using the linear strategy: %s", reason)
    strategy: Literal["mitogen", "linear"] = "mitogen" if plugins is not None else "linear"
    # A short name: a unix socket path has 108 bytes, and Ansible adds a 10-character socket name.
    control_dir = control_path_dir(settings) / run_id.rsplit("-", 1)[-1]
    return ConnectionTuning(
        strategy,
        forks,
        control_dir,
        plugins,
        reason,
        task_timeout=settings.task_timeout,
        keepalive_interval=settings.ssh_keepalive_interval,
        keepalive_count=settings.ssh_keepalive_count,
    )


def close_control_masters(control_dir: Path) -> int:
    """End every SSH ControlPersist master whose socket is in ``control_dir``; return how many.

    A master to a host that has vanished hangs the next ssh to its address, and a master to a re-made host
    would skip the host-key check of its new key.
    """
    if not control_dir.exists():
        return 0
    marker = str(control_dir)
    ended = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmdline.startswith("ssh: ") and marker in cmdline:
            try:
                os.kill(int(proc.name), signal.SIGTERM)
                ended += 1
            except ProcessLookupError:
                pass
    for entry in control_dir.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    return ended
