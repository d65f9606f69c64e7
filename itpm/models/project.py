"""An IT project as written in ``projects/*.yaml``: what it is for, who is involved, what it costs, and its steps.

Unknown keys are errors (``itpm.models.strict``). Paths in a project file are relative to the repository root:
the nearest directory above the file that has a ``playbooks/`` directory. ``load_project`` resolves them and
checks that they exist (``itpm.models.repo_path``).

The file's sections have a module each: ``schedule`` (phases, milestones), ``budget``, ``team`` (people,
stakeholders), ``risk``, ``step`` (scope, steps, group move), ``compliance`` (standard, waivers), ``variables``,
``change_control`` (each step's change class from its risks, and what the class demands, checked here).
This module holds the file as a whole and re-exports the sections' models, so that one import names the project
file's vocabulary: ``from itpm.models.project import Project, Step``.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, JsonValue, field_validator, model_validator

from itpm.models.budget import Budget
from itpm.models.change_control import ChangeClass, ChangeControl, change_control_problems
from itpm.models.compliance import Compliance, Waiver
from itpm.models.risk import Level, Risk, RiskSignal
from itpm.models.schedule import Milestone, Phase, PhaseName
from itpm.models.signing import Signing
from itpm.models.slug import Slug
from itpm.models.step import GroupMove, Scope, Step
from itpm.models.strict import StrictModel
from itpm.models.team import Notice, Person, Stakeholder
from itpm.models.variables import VariableName, Variables, check_variable_name

__all__ = [
    "Budget",
    "ChangeClass",
    "ChangeControl",
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
    "Signing",
    "Stakeholder",
    "Step",
    "VariableName",
    "Variables",
    "Waiver",
    "check_variable_name",
]


class ProjectKind(StrEnum):
    """The kinds of IT project itpm runs."""

    HARDWARE_INSTALL = "hardware_install"
    NETWORK_CONFIG = "network_config"
    DISASTER_RECOVERY = "disaster_recovery"
    COMPLIANCE = "compliance"


class Project(StrictModel):
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
    signing: Signing | None = None
    change_control: ChangeControl = ChangeControl()
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

    @property
    def signatures_required(self) -> bool:
        """Return whether an approval must be signed: as the signing section says, else everywhere but the lab."""
        if self.signing is not None and self.signing.required is not None:
            return self.signing.required
        return self.environment != "lab"

    @model_validator(mode="after")
    def _change_control(self) -> Project:
        # After _references: a risk naming an unknown step is reported as that, not as a class problem.
        problems = change_control_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
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
