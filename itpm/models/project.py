"""An IT project as written in ``projects/*.yaml``: what it is for, who is involved, what it costs, and its steps.

Unknown keys are errors (a misspelt ``max_fail_pecent`` must not silently mean "no limit"). Paths in a project
file are relative to the repository root: the nearest directory above the file that has a ``playbooks/``
directory. ``load_project`` resolves them and checks that they exist.
"""

from __future__ import annotations

import os
import re
from datetime import date
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationInfo,
    field_validator,
    model_validator,
)

from itpm.models.strategy import RolloutStrategy

__all__ = [
    "Budget",
    "Compliance",
    "GroupMove",
    "Level",
    "Milestone",
    "Notice",
    "Person",
    "Phase",
    "PhaseName",
    "Project",
    "ProjectKind",
    "Risk",
    "RiskSignal",
    "Scope",
    "Stakeholder",
    "Step",
    "VariableName",
    "Variables",
    "Waiver",
    "check_variable_name",
]

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def _slug(value: str) -> str:
    if not _SLUG.fullmatch(value):  # fullmatch: `$` alone would let a trailing newline through
        raise ValueError(f"{value!r}: use lowercase letters, digits and dashes (it names runs and tags)")
    return value


Slug = Annotated[str, AfterValidator(_slug)]


class ProjectKind(StrEnum):
    """The kinds of IT project itpm runs."""

    HARDWARE_INSTALL = "hardware_install"
    NETWORK_CONFIG = "network_config"
    DISASTER_RECOVERY = "disaster_recovery"
    COMPLIANCE = "compliance"


class PhaseName(StrEnum):
    """The project management phases a run moves through."""

    INITIATION = "initiation"
    PLANNING = "planning"
    EXECUTION = "execution"
    MONITORING_AND_CONTROL = "monitoring_and_control"
    CLOSURE = "closure"


class Level(StrEnum):
    """Likelihood or impact of a risk."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Notice(StrEnum):
    """What a stakeholder wants to hear about."""

    PHASE_CHANGES = "phase_changes"
    APPROVALS = "approvals"
    HALTS = "halts"
    COMPLETION = "completion"


class _Strict(BaseModel):
    # No inf or nan: `pause_seconds: .inf` would pause forever, and nan compares false with every limit.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _inside_root(value: Path, info: ValidationInfo) -> Path:
    """Return ``value`` resolved against the repository root in the validation context (as given without one).

    A relative path must stay inside the repository: ``../../etc/passwd`` is refused, so a file copied from
    elsewhere cannot reach out of the checkout by accident or on purpose. An absolute path is taken as written.
    """
    root = (info.context or {}).get("root")
    if value.is_absolute() or root is None:
        return value
    # normpath, not resolve(): `..` is judged as written; a symlink the repository itself holds is its business.
    path = Path(os.path.normpath(Path(root) / value))
    if not path.is_relative_to(root):
        raise ValueError(f"{value} leads outside the repository {root}: give a path inside it")
    return path


def _repo_path(value: Path, info: ValidationInfo) -> Path:
    """Resolve a path of the project file against the repository root given in the validation context."""
    root = (info.context or {}).get("root")
    path = _inside_root(value, info)
    try:
        exists = path.exists()
    except OSError as problem:  # a name too long for the file system
        raise ValueError(f"{str(value)[:80]!r} is not a usable path ({problem.strerror})") from None
    except ValueError as problem:  # a NUL byte
        raise ValueError(f"{str(value)[:80]!r} is not a usable path ({problem})") from None
    if root is not None and not exists:
        raise ValueError(f"{value} does not exist under {root}: give a path relative to the repository root")
    return path


RepoPath = Annotated[Path, AfterValidator(_repo_path)]


def _repo_path_maybe_generated(value: Path, info: ValidationInfo) -> Path:
    """Resolve like ``RepoPath`` without requiring the file: an inventory may be generated (itpm lab up) later."""
    return _inside_root(value, info)


GeneratedPath = Annotated[Path, AfterValidator(_repo_path_maybe_generated)]

_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# Variables Ansible sets for every host and task. Extra vars outrank everything, so a project var named like one
# would replace it in every task: `item` breaks every loop, `inventory_hostname` makes each host think it is
# another. (`ansible_*` is refused as a prefix: connection settings belong in the inventory.)
_ANSIBLE_MAGIC = frozenset(
    {
        "environment",
        "group_names",
        "groups",
        "hostvars",
        "inventory_dir",
        "inventory_file",
        "inventory_hostname",
        "inventory_hostname_short",
        "item",
        "omit",
        "play_hosts",
        "playbook_dir",
        "role_name",
        "role_names",
        "role_path",
        "vars",
    }
)


def check_variable_name(name: str) -> str:
    """Return ``name`` if a project may pass it to playbooks as an extra var; raise ValueError saying why not."""
    if not _VARIABLE.fullmatch(name):
        raise ValueError(f"variable {name!r}: use letters, digits and underscores, not starting with a digit")
    if name.startswith("itpm_"):
        raise ValueError(f"variable {name!r}: names starting with itpm_ are set by itpm itself")
    if name.startswith("ansible_"):
        raise ValueError(
            f"variable {name!r}: ansible_* settings belong in the inventory (as extra vars they would override "
            "every host's connection settings, host key checking included)"
        )
    if name in _ANSIBLE_MAGIC:
        raise ValueError(f"variable {name!r}: Ansible sets it for every host and task; choose another name")
    return name


VariableName = Annotated[str, AfterValidator(check_variable_name)]

# Values a project hands to its playbooks (as extra vars) and to its checks (merged into ``host_vars``), so that
# a value the project file decides, such as a hardware spec, is written once and read by both.
Variables = dict[VariableName, JsonValue]


class Phase(_Strict):
    """A phase with its planned dates."""

    name: PhaseName
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Phase:
        if self.end < self.start:
            raise ValueError(f"phase {self.name.value} ends ({self.end}) before it starts ({self.start})")
        return self


class Milestone(_Strict):
    """A dated milestone, reached at the end of a phase or when a step is done."""

    name: str
    due: date
    phase: PhaseName | None = None
    step: str | None = None  # reached when this step has verified all its hosts


class Budget(_Strict):
    """Money: ``rates`` per hour of each team role, ``per_host`` costs (hardware, licences) per host in scope."""

    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR")
    total: Decimal = Field(ge=0)
    rates: dict[str, Decimal] = {}
    per_host: Decimal = Field(default=Decimal(0), ge=0)

    def labour_cost(self, role: str, hours: float) -> Decimal:
        """Return ``hours`` of ``role`` at its rate, to the cent (0 for a role without a rate)."""
        # str(): 1.005 hours typed by a person are 1.005, not the binary float just below it.
        return (self.rates.get(role, Decimal(0)) * Decimal(str(hours))).quantize(Decimal("0.01"))


class Person(_Strict):
    """A team member; ``role`` is what approval gates and rates refer to."""

    name: str
    role: str
    user: str | None = None  # login name, as given to `itpm run --as` / `itpm approve --as`
    email: str | None = None
    on_call: bool = False

    def is_(self, identity: str) -> bool:
        """Return whether ``identity`` (a name, login or e-mail address) is this person."""
        return identity in {self.name, self.user, self.email}


class Stakeholder(_Strict):
    """Someone who hears about the project: what they want to know, and where to send it."""

    name: str
    role: str
    wants: tuple[Notice, ...] = (Notice.COMPLETION,)
    channel: str | None = None  # "email:cio@example.com", "webhook:https://...", "file:reports/cio", or "secret:..."

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, channel: str | None) -> str | None:
        # Imported here: itpm.notify builds on these models, so a module-level import would be circular.
        from itpm.notify.address import parse_channel  # noqa: PLC0415

        if channel is not None:
            parse_channel(channel)  # raises ValueError saying what a channel looks like
        return channel


class RiskSignal(StrEnum):
    """What a run can observe that means a risk materialized."""

    HALT = "halt"  # a batch failed past its tolerance
    UNREACHABLE = "unreachable"  # a host stopped answering during a step
    CHECK_FAILED = "check_failed"  # a host's checks failed after the change
    ROLLBACK_FAILED = "rollback_failed"  # a rollback did not restore a host
    APPROVAL_REJECTED = "approval_rejected"


class Risk(_Strict):
    """A risk of the project and who owns it; ``signals`` let a run notice, and log, that it materialized."""

    id: str
    title: str
    likelihood: Level
    impact: Level
    mitigation: str
    owner: str
    open: bool = True
    signals: tuple[RiskSignal, ...] = ()
    step: str | None = None  # the signals count only in this step (any step if absent)


class GroupMove(_Strict):
    """Where hosts go in the inventory once every step passed on them: a new server leaves ``spare`` for ``web``."""

    from_group: str
    to_group: str


class Waiver(_Strict):
    """An accepted exception: ``control`` may fail on ``hosts`` until ``expires``; then it is a finding again."""

    control: str
    hosts: tuple[str, ...] = Field(min_length=1)  # host names or Ansible patterns
    owner: str
    reason: str = Field(min_length=1)
    expires: date

    def active(self, today: date) -> bool:
        """Return whether the waiver still holds on ``today`` (it holds through its expiry date)."""
        return today <= self.expires


class Compliance(_Strict):
    """The standard a compliance project audits against, and the waivers this project grants."""

    standard: RepoPath
    waivers: tuple[Waiver, ...] = ()


class Scope(_Strict):
    """Which hosts the project may touch: an inventory and an Ansible host pattern over it."""

    inventory: GeneratedPath  # checked when a run loads it: it may not exist before `itpm lab up`
    hosts: str = "all"


class Step(_Strict):
    """One change: a playbook, the checks that prove it, how to undo it, and how to roll it out."""

    name: Slug
    description: str = ""
    playbook: RepoPath
    checks: tuple[RepoPath, ...] = Field(min_length=1)
    rollback: RepoPath | None = None
    hosts: str | None = None  # narrows the project scope for this step (an Ansible pattern)
    vars: Variables = {}  # over the project's vars, for this step only
    strategy: RolloutStrategy = RolloutStrategy()


class Project(_Strict):
    """A project file."""

    name: Slug
    title: str
    kind: ProjectKind
    environment: Slug = "lab"
    objectives: tuple[str, ...] = Field(min_length=1)
    scope: Scope
    phases: tuple[Phase, ...] = ()
    milestones: tuple[Milestone, ...] = ()
    budget: Budget | None = None
    team: tuple[Person, ...] = ()
    stakeholders: tuple[Stakeholder, ...] = ()
    risks: tuple[Risk, ...] = ()
    vars: Variables = {}  # extra vars of every playbook and check of the project (a step's own vars win)
    move_to_group: GroupMove | None = None  # when the run completes, for the hosts every step verified
    compliance: Compliance | None = None
    steps: tuple[Step, ...] = Field(min_length=1)

    @field_validator("steps")
    @classmethod
    def _unique_steps(cls, steps: tuple[Step, ...]) -> tuple[Step, ...]:
        names = [s.name for s in steps]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"step names must be unique: {', '.join(duplicates)} appears more than once")
        return steps

    @model_validator(mode="after")
    def _references(self) -> Project:
        roles = {p.role for p in self.team}
        for step in self.steps:
            gate = step.strategy.approval
            missing = sorted(set(gate.roles) - roles) if gate else []
            if missing:
                raise ValueError(
                    f"step {step.name!r} needs approval from role {', '.join(missing)}, "
                    "but no team member has it: add the person to team"
                )
        step_names = {s.name for s in self.steps}
        for milestone in self.milestones:
            if milestone.step is not None and milestone.step not in step_names:
                raise ValueError(f"milestone {milestone.name!r} names unknown step {milestone.step!r}")
        for risk in self.risks:
            if risk.step is not None and risk.step not in step_names:
                raise ValueError(f"risk {risk.id!r} names unknown step {risk.step!r}")
        if self.budget is not None:
            unknown = sorted(set(self.budget.rates) - roles)
            if unknown:
                raise ValueError(f"budget rates for role {', '.join(unknown)}, which no team member has")
        return self

    def roles_of(self, identity: str) -> list[str]:
        """Return the roles of the team member ``identity`` names (a name, login or e-mail); empty if off the team."""
        return [p.role for p in self.team if p.is_(identity)]

    def variables(self, step: Step) -> dict[str, JsonValue]:
        """Return the vars ``step``'s playbooks and checks get: ``{'hardware_spec': {...}}`` (the step's win)."""
        return {**self.vars, **step.vars}

    def step(self, name: str) -> Step:
        """Return the step called ``name`` (KeyError if there is none)."""
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)
