"""Change control: each step's change class, from the risks that bear on it, and what the class demands.

A step's class is what change management would call it (ITIL's standard and normal changes; itpm splits normal
into normal and high risk; an emergency change is a run that skips its gates: ``itpm.engine.emergency``). The
worst open risk that bears on the step (its ``step`` is the step, or absent: project-wide) decides, by
likelihood x impact with low=1, medium=2, high=3:

    likelihood, by impact:  low          medium       high
    low                     1 standard   2 standard   3 normal
    medium                  2 standard   4 normal     6 high
    high                    3 normal     6 high       9 high

- **standard** (score <= 2, or no open risk bears on the step): runs pre-approved; an approval gate the project
  file gives it anyway is honoured (one approval).
- **normal** (3 or 4): one approval, so the step needs ``strategy.approval``; or ``strategy.pre_authorised:
  "<why>"`` when the change board approved this kind of change in advance (ITIL's standard-change catalogue),
  which makes it a standard change.
- **high** (6 or 9): two approvals from different people with different roles (``strategy.approval`` with at
  least two roles), a canary, and batches no larger than the project's ``change_control.high_risk_max_batch``
  ("25%" unless the file says otherwise). It cannot be pre-authorised.

The batch limit compares like with like: a percentage with a percentage, a number of hosts with a number of
hosts. A project file that mixes them (``batch_size: 3`` against "25%") is refused with a request to state both
the same way, since which is larger depends on a fleet size the file does not fix.

>>> classify(project, project.step("baseline"))  # doctest: +SKIP
Classification(change_class=<ChangeClass.NORMAL: 'normal'>, risk_class=<ChangeClass.NORMAL: 'normal'>,
               reasons=("R1 'Agent breaks SSH': low likelihood x high impact",), approvals_needed=1, pre_authorised='')
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from itpm.models.risk import Risk
from itpm.models.step import Step
from itpm.models.strategy import HostCount
from itpm.models.strict import StrictModel

if TYPE_CHECKING:
    from itpm.models.project import Project

__all__ = ["ChangeClass", "ChangeControl", "Classification", "change_control_problems", "classify"]

# Scores at or above which a change is normal, or high risk (likelihood x impact, each 1 to 3).
_NORMAL_FROM = 3
_HIGH_FROM = 6
_HIGH_RISK_ROLES = 2


class ChangeClass(StrEnum):
    """How change management classes a step's change; the value is the word stored in the project log."""

    STANDARD = "standard"  # pre-approved
    NORMAL = "normal"  # one approval
    HIGH = "high"  # two approvals from different people and roles, a canary, small batches

    @property
    def words(self) -> str:
        """Return the class as a person says it: ``'high-risk change'``."""
        return "high-risk change" if self is ChangeClass.HIGH else f"{self.value} change"

    @property
    def approvals(self) -> int:
        """Return how many approvals a change of this class needs: 0, 1, or 2 from different people and roles."""
        return {ChangeClass.STANDARD: 0, ChangeClass.NORMAL: 1, ChangeClass.HIGH: 2}[self]

    @classmethod
    def of_score(cls, score: int) -> ChangeClass:
        """Return the class a risk score (likelihood x impact, 1 to 9) gives: ``of_score(4) is NORMAL``."""
        if score >= _HIGH_FROM:
            return cls.HIGH
        return cls.NORMAL if score >= _NORMAL_FROM else cls.STANDARD


class ChangeControl(StrictModel):
    """The project file's ``change_control:`` section: the limits it sets on high-risk steps."""

    # The largest batch a high-risk step may have, stated like its batch_size: both percentages or both numbers.
    high_risk_max_batch: HostCount = "25%"


@dataclass(frozen=True)
class Classification:
    """A step's change class and why, as ``itpm validate`` shows it and a run records it.

    ``risk_class`` is the class the risks alone give; ``change_class`` differs from it only for a pre-authorised
    normal change (then standard, and ``pre_authorised`` says why). ``approvals_needed``: 0, 1 or 2.
    """

    change_class: ChangeClass
    risk_class: ChangeClass
    reasons: tuple[str, ...]  # "R1 'Agent breaks SSH': low likelihood x high impact", "pre-authorised: ..."
    approvals_needed: int
    pre_authorised: str = ""

    @property
    def summary(self) -> str:
        """Return the class, the approvals and why in one line.

        ``"normal change, 1 approval (R1 'Agent breaks SSH': low likelihood x high impact)"``
        """
        approvals = {0: "no approval", 1: "1 approval"}.get(
            self.approvals_needed, f"{self.approvals_needed} approvals from different people and roles"
        )
        return f"{self.change_class.words}, {approvals} ({'; '.join(self.reasons)})"


def classify(project: Project, step: Step) -> Classification:
    """Return ``step``'s change class in ``project``, from the open risks that bear on it, and why.

    >>> classify(project, project.step("burn-in"))  # doctest: +SKIP
    Classification(change_class=<ChangeClass.STANDARD: 'standard'>, risk_class=<ChangeClass.NORMAL: 'normal'>,
                   reasons=("R1 'A delivered server is below the ordered spec': medium likelihood x medium impact",
                            'pre-authorised: burn-in only touches servers not yet in service'),
                   approvals_needed=0, pre_authorised='burn-in only touches servers not yet in service')
    """
    return _classify(project.risks, step)


def _classify(risks: Iterable[Risk], step: Step) -> Classification:
    bearing = [r for r in risks if r.bears_on(step.name)]
    worst = max((r.score for r in bearing), default=0)
    risk_class = ChangeClass.of_score(worst)
    # The risks that put the step in its class, in the register's order; lesser ones do not explain it.
    responsible = [r for r in bearing if ChangeClass.of_score(r.score) is risk_class]
    reasons = [_risk_words(r) for r in responsible] or ["no open risk bears on it"]
    why = step.strategy.pre_authorised or ""
    change_class = ChangeClass.STANDARD if why and risk_class is ChangeClass.NORMAL else risk_class
    if change_class is not risk_class:
        reasons.append(f"pre-authorised: {why}")
    needed = change_class.approvals
    if needed == 0 and step.strategy.approval is not None:
        needed = 1  # a gate the project file asks for is always honoured
        reasons.append("its approval gate asks for one")
    granted = why if change_class is not risk_class else ""
    return Classification(change_class, risk_class, tuple(reasons), needed, granted)


def change_control_problems(project: Project) -> list[str]:
    """Return what each step lacks for its change class, naming the step, class, risks and fix; empty if nothing.

    ``["step 'burn-in' is a normal change (R1 'Slow disks': medium likelihood x medium impact): add ..."]``
    """
    problems = []
    for step in project.steps:
        found = classify(project, step)
        where = f"step {step.name!r} is a {found.risk_class.words} ({'; '.join(found.reasons)})"
        if found.risk_class is ChangeClass.HIGH:
            fixes = _high_risk_fixes(step, project.change_control.high_risk_max_batch)
            if fixes:
                problems.append(f"{where}: {'; '.join(fixes)}")
        elif step.strategy.pre_authorised is not None and found.risk_class is ChangeClass.STANDARD:
            problems.append(f"{where} without pre_authorised: remove strategy.pre_authorised")
        elif found.change_class is ChangeClass.NORMAL and step.strategy.approval is None:
            problems.append(
                f"{where}: add strategy.approval with the roles that approve it, or strategy.pre_authorised: "
                "<why> if the change board has approved this kind of change in advance"
            )
    return problems


def _high_risk_fixes(step: Step, max_batch: int | str) -> list[str]:
    """Return what a high-risk step lacks, each with its fix: ``['set strategy.canary ...']``."""
    strategy = step.strategy
    fixes = []
    if strategy.pre_authorised is not None:
        fixes.append("a high-risk change cannot be pre-authorised: remove strategy.pre_authorised")
    roles = sorted(set(strategy.approval.roles)) if strategy.approval else []
    if len(roles) < _HIGH_RISK_ROLES:
        has = f" (it has {roles[0]} only)" if roles else ""
        fixes.append(
            f"give strategy.approval at least two roles{has}: a high-risk change needs two approvals "
            "from different people with different roles"
        )
    if strategy.canary is None:
        fixes.append("set strategy.canary: a high-risk change starts on a canary")
    batch = strategy.batch_size
    if isinstance(batch, int) != isinstance(max_batch, int):
        fixes.append(
            f"strategy.batch_size {batch!r} and change_control.high_risk_max_batch {max_batch!r} cannot be "
            "compared: state both as numbers of hosts or both as percentages"
        )
    elif _amount(batch) > _amount(max_batch):
        fixes.append(
            f"lower strategy.batch_size {batch!r} to at most {max_batch!r} (change_control.high_risk_max_batch)"
        )
    return fixes


def _amount(count: int | str) -> Decimal:
    """Return a host count's number: ``3`` for 3, ``25`` for '25%' (compare only counts of one kind)."""
    return Decimal(count) if isinstance(count, int) else Decimal(count.rstrip("%"))


def _risk_words(risk: Risk) -> str:
    return f"{risk.id} '{risk.title}': {risk.likelihood} likelihood x {risk.impact} impact"
