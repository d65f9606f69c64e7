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
    max_forks: int = 50
    # The project log: None means SQLite in the state directory; a PostgreSQL URL shares it between machines.
    log_url: str | None = None
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
