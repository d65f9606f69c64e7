"""What ``itpm lab status`` shows of a lab: each recorded host's address, group and state (up, sshd down, down).

>>> lab_status(settings, name="lab").up  # itpm.lab.fleet  # doctest: +SKIP
('h1', 'h2', 'h3')
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict

__all__ = ["HostState", "LabHostStatus", "LabStatus"]


class HostState(StrEnum):
    """What ``lab status`` sees of a host."""

    UP = "up"  # init alive and sshd answering with a banner
    SSHD_DOWN = "sshd down"  # the host runs, but nothing answers on port 22
    DOWN = "down"  # no namespace or no init


class LabHostStatus(BaseModel):
    """One row of ``itpm lab status``."""

    model_config = ConfigDict(frozen=True)

    name: str
    address: str
    group: str
    state: HostState


class LabStatus(BaseModel):
    """What a lab looks like now; ``inventory`` is the file to hand to Ansible and testinfra."""

    model_config = ConfigDict(frozen=True)

    name: str
    subnet: str
    inventory: Path | None
    hosts: tuple[LabHostStatus, ...]

    @property
    def up(self) -> tuple[str, ...]:
        """Names of the hosts that answer SSH."""
        return tuple(h.name for h in self.hosts if h.state is HostState.UP)
