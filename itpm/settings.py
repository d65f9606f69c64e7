"""Where itpm keeps its state and how it reaches outside tools; read from ``ITPM_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "load_settings"]


class Settings(BaseSettings):
    """Settings of one itpm process.

    >>> Settings(state_dir=Path("/tmp/s")).runs_dir
    PosixPath('/tmp/s/runs')
    """

    model_config = SettingsConfigDict(env_prefix="ITPM_", frozen=True)

    # Relative to the working directory, like .terraform: a checkout carries its own state.
    state_dir: Path = Field(default=Path(".itpm"))
    # The Debian root shared read-only by all lab hosts is keyed by its package list and kept outside the
    # checkout so that a fresh clone on the same machine does not spend a minute rebuilding it.
    rootfs_cache: Path = Field(default=Path("/var/cache/itpm/rootfs"))
    debian_mirror: str = "http://deb.debian.org/debian"
    debian_suite: str = "bookworm"
    # auto: mitogen when it imports and supports the installed ansible-core, else the tuned linear strategy.
    ansible_strategy: Literal["auto", "mitogen", "linear"] = "auto"
    # A run that exceeds this is ended with its whole process group (seconds).
    ansible_timeout: int = 1800
    # Per-host bounds, so that one slow or cut-off host fails with its name instead of holding up its batch until
    # ansible_timeout ends the whole run (measured in tests/lab/test_network_faults.py):
    # a task that runs longer than this fails on its host (ANSIBLE_TASK_TIMEOUT; seconds; a task's own
    # `timeout:` overrides it). Ansible does not stop the command on the host: it only stops waiting for it.
    task_timeout: int = Field(default=600, ge=1)
    # A host that answers none of ssh_keepalive_count keepalives sent every ssh_keepalive_interval seconds has its
    # SSH connection dropped and is reported unreachable (OpenSSH's ServerAlive*, mitogen's
    # mitogen_ssh_keepalive_*; the checks' connection, after as long without an acknowledgement). These win over
    # the inventory's: with lax ones (or mitogen's defaults, 30 s x 10) a dead link held a run to its task timeout.
    ssh_keepalive_interval: int = Field(default=5, ge=1)
    ssh_keepalive_count: int = Field(default=3, ge=1)
    # How long all the checks of one host may take (seconds): the check still waiting for the host then, and every
    # check of the host after it, is reported unreachable.
    check_timeout: int = Field(default=300, ge=1)
    max_forks: int = 50
    # Ansible Vault: a file holding the password (or an executable printing it) of the inventory's encrypted vars.
    vault_password_file: Path | None = None
    # The project log: None means SQLite in the state directory; a PostgreSQL URL shares it between machines.
    log_url: str | None = None
    # How long a write to the SQLite project log waits for another writer before the run stops (seconds).
    log_busy_timeout_seconds: float = Field(default=30.0, gt=0)
    # A host lock not renewed for this long is taken to belong to a crashed run and may be taken over.
    lock_lease_seconds: int = 120
    # How long a run waits for hosts another run holds before it gives up (0: fail at once).
    lock_wait_seconds: int = 3600
    # The local Prefect server itpm starts when PREFECT_API_URL is not set (127.0.0.1 only).
    prefect_port: int = 4200

    @property
    def runs_dir(self) -> Path:
        """Directory of ansible-runner private data dirs, one per run id."""
        return self.state_dir / "runs"

    @property
    def reports_dir(self) -> Path:
        """Directory of run reports (HTML and Markdown), written at the end of a run and by ``itpm report``."""
        return self.state_dir / "reports"

    @property
    def prefect_home(self) -> Path:
        """Directory of the local Prefect server's database, logs and profile."""
        return self.state_dir / "prefect"

    @property
    def lab_dir(self) -> Path:
        """Directory of lab fleets (keys, host overlays, fleet records)."""
        return self.state_dir / "lab"


def load_settings() -> Settings:
    """Return the settings from the environment, with the state directory made absolute."""
    settings = Settings()
    return settings.model_copy(update={"state_dir": settings.state_dir.resolve()})
