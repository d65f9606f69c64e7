"""The compliance report: each control on each host, passed, failed, waived or not audited, with its evidence.

Pure: the standard, the audits' log events and the waivers go in; an ``Assessment`` and report sections come out.
An audit before the change and one after give the before-vs-after comparison.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from itpm.compliance import HostWaivers, waivers_by_host
from itpm.inventory import Inventory, natural_key
from itpm.log.events import Event, StepAudited
from itpm.models.project import Project, Waiver
from itpm.models.standard import Control, Severity, Standard
from itpm.reports.section import ReportSection
from itpm.reports.wording import plural
from itpm.standard_file import load_standard

__all__ = ["Assessment", "ControlFinding", "ControlState", "assess", "compliance_sections", "project_compliance"]


class ControlState(StrEnum):
    """Where a host stands on one control."""

    PASSED = "passed"
    FAILED = "failed"
    WAIVED = "waived"  # fails, under a waiver that holds
    WAIVER_EXPIRED = "waiver expired"  # fails, and its waiver lapsed: a finding like any failure
    NOT_AUDITED = "not audited"  # the host or one of the control's checks did not run

    @property
    def is_finding(self) -> bool:
        """Return whether this state needs fixing (a lapsed waiver does)."""
        return self in (ControlState.FAILED, ControlState.WAIVER_EXPIRED)


@dataclass(frozen=True)
class ControlFinding:
    """One control on one host, with what the checks saw."""

    control: Control
    host: str
    state: ControlState
    evidence: str
    waiver: Waiver | None = None


@dataclass(frozen=True)
class Assessment:
    """A standard applied to hosts by one audit."""

    standard: Standard
    stage: str  # before, after
    findings: tuple[ControlFinding, ...]

    def count(self, state: ControlState) -> int:
        """Return how many control-host pairs are in ``state``."""
        return sum(1 for f in self.findings if f.state is state)

    def state_of(self, control_id: str, host: str) -> ControlState:
        """Return the state of one control on one host."""
        return next(f.state for f in self.findings if f.control.id == control_id and f.host == host)

    @property
    def compliant_percent(self) -> float:
        """Return the share of control-host pairs passed or waived, 0 to 100."""
        audited = [f for f in self.findings if f.state is not ControlState.NOT_AUDITED]
        good = sum(1 for f in audited if not f.state.is_finding)
        return 100.0 * good / len(audited) if audited else 0.0


def assess(
    standard: Standard,
    audits: Sequence[StepAudited],
    hosts: Sequence[str],
    active: HostWaivers,
    expired: HostWaivers,
) -> Assessment:
    """Return the state of every control on every host, as the audits (of one stage) saw them."""
    ran = {name for audit in audits for name in audit.checks}
    audited = {h for audit in audits for h in (*audit.passed, *audit.failed)}
    failures: dict[str, dict[str, str]] = {}
    for audit in audits:
        for host, host_failures in audit.failed.items():
            for failure in host_failures:
                failures.setdefault(host, {})[failure.check] = failure.summary
    findings = []
    for control in standard.controls:
        missing = [name for name in control.checks if name not in ran]
        for host in hosts:
            failed = [failures[host][name] for name in control.checks if name in failures.get(host, {})]
            waiver = active.get(host, {}).get(control.id)
            lapsed = expired.get(host, {}).get(control.id)
            if host not in audited or missing:
                state = ControlState.NOT_AUDITED
                evidence = f"check {', '.join(missing)} did not run" if missing else "the host was not audited"
            elif not failed:
                state, evidence = ControlState.PASSED, f"passed: {', '.join(control.checks)}"
            elif waiver is not None:
                state, evidence = ControlState.WAIVED, "; ".join(failed)
            elif lapsed is not None:
                state, evidence = ControlState.WAIVER_EXPIRED, "; ".join(failed)
            else:
                state, evidence = ControlState.FAILED, "; ".join(failed)
            findings.append(ControlFinding(control, host, state, evidence, waiver or lapsed))
    stage = audits[0].stage if audits else "before"
    return Assessment(standard, stage, tuple(findings))


_SEVERITY_ORDER = {s: i for i, s in enumerate(Severity)}


def compliance_sections(before: Assessment, after: Assessment | None) -> tuple[ReportSection, ...]:
    """Return the compliance report: a summary, before vs after per control, then each finding with evidence."""
    latest = after or before
    standard = latest.standard
    summary = [
        f"Standard {standard.id} {standard.version} ({standard.title}): {len(standard.controls)} controls on "
        f"{plural(len({f.host for f in latest.findings}), 'host')}.",
        f"Before: {before.compliant_percent:.0f}% compliant, {before.count(ControlState.FAILED)} failing."
        + (
            f" After: {after.compliant_percent:.0f}% compliant, {after.count(ControlState.FAILED)} failing, "
            f"{after.count(ControlState.WAIVED)} waived, {after.count(ControlState.WAIVER_EXPIRED)} under an "
            "expired waiver."
            if after
            else ""
        ),
    ]
    controls = sorted(standard.controls, key=lambda c: (_SEVERITY_ORDER[c.severity], c.id))
    table = []
    for control in controls:
        row = {"control": control.id, "severity": control.severity.value, "title": control.title}
        for assessment in (before, after):
            if assessment is not None:
                counts = Counter(f.state for f in assessment.findings if f.control.id == control.id)
                row[assessment.stage] = ", ".join(f"{n} {state.value}" for state, n in sorted(counts.items())) or "-"
        table.append(row)
    findings = tuple(
        {
            "control": f.control.id,
            "host": f.host,
            "state": f.state.value,
            "evidence": f.evidence
            + (
                f" (waiver by {f.waiver.owner} until {f.waiver.expires}: {f.waiver.reason})"
                if f.waiver is not None
                else ""
            ),
        }
        for f in sorted(latest.findings, key=lambda f: (_SEVERITY_ORDER[f.control.severity], f.control.id, f.host))
        if f.state is not ControlState.PASSED
    )
    return (
        ReportSection("Compliance", paragraphs=tuple(summary), table=tuple(table)),
        ReportSection(
            f"Compliance findings ({latest.stage} the change), with evidence",
            paragraphs=() if findings else ("Every control passes on every host.",),
            table=findings,
        ),
    )


def project_compliance(
    project: Project, events: Sequence[Event], inventory: Inventory, today: date
) -> tuple[ReportSection, ...]:
    """Return the compliance sections of a compliance project's run (none for other projects or before an audit)."""
    if project.compliance is None:
        return ()
    standard = load_standard(project.compliance.standard)
    active, expired = waivers_by_host(project.compliance.waivers, inventory, today)
    audits = [e for e in events if isinstance(e, StepAudited)]
    hosts = sorted({h for a in audits for h in (*a.passed, *a.failed)}, key=natural_key)
    before = [a for a in audits if a.stage == "before"]
    after = [a for a in audits if a.stage == "after"]
    if not before:
        return ()
    return compliance_sections(
        assess(standard, before, hosts, active, expired),
        assess(standard, after, hosts, active, expired) if after else None,
    )
