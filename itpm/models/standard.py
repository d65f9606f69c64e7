"""A compliance standard as written in ``standards/*.yaml``: controls, the checks that test them, their remedies.

A control passes on a host when every check it names passed there. Waivers live in the project file (they are
a decision of one project about some hosts, for a while); the standard only says what good looks like.

>>> load_standard(Path("standards/lab-baseline.yaml")).controls[0].id  # itpm.standard_file  # doctest: +SKIP
'SSH-01'
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from itpm.models.repo_path import RepoPath
from itpm.models.strict import StrictModel

__all__ = ["Control", "Remediation", "Severity", "Standard"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Severity(StrEnum):
    """How much a failing control matters, most first."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


def _identifier(value: str) -> str:
    if not _IDENTIFIER.fullmatch(value):  # fullmatch: `$` alone would let a trailing newline through
        raise ValueError(f"{value!r}: a role, task file or check name has letters, digits and underscores only")
    return value


Identifier = Annotated[str, AfterValidator(_identifier)]


class Remediation(StrictModel):
    """The Ansible role (and its task file) that brings a host into line with a control."""

    role: Identifier
    tasks: Identifier = "main"


class Control(StrictModel):
    """One requirement of the standard and how it is tested and fixed."""

    id: str = Field(pattern=r"^[A-Z]{2,6}-[0-9]{2}$", description="e.g. SSH-01")
    title: str = Field(min_length=1)
    severity: Severity
    rationale: str = Field(min_length=1)
    checks: tuple[Identifier, ...] = Field(min_length=1, description="check function names in the checks directory")
    remediation: Remediation


class Standard(StrictModel):
    """A standard file."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    title: str
    version: str
    checks: RepoPath  # the directory of every control's checks
    controls: tuple[Control, ...] = Field(min_length=1)

    @field_validator("controls")
    @classmethod
    def _unique(cls, controls: tuple[Control, ...]) -> tuple[Control, ...]:
        ids = [c.id for c in controls]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"control ids must be unique: {', '.join(twice)} appears more than once")
        return controls

    def control(self, control_id: str) -> Control:
        """Return the control ``control_id`` (KeyError if the standard has none)."""
        for control in self.controls:
            if control.id == control_id:
                return control
        raise KeyError(control_id)

    def remediation_vars(self) -> list[dict[str, str]]:
        """Return what the remediation playbook loops over: ``[{'id': 'SSH-01', 'role': ..., 'tasks': ...}]``."""
        return [{"id": c.id, "role": c.remediation.role, "tasks": c.remediation.tasks} for c in self.controls]
