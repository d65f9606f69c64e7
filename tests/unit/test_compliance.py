"""Compliance: waivers per host and date, each control's state with evidence, the before/after report."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from itpm.compliance import remediation_vars, waivers_by_host
from itpm.errors import StandardFileError
from itpm.inventory import Inventory, InventoryHost
from itpm.log.events import StepAudited
from itpm.models.project import Waiver
from itpm.models.standard import Control, Remediation, Severity, Standard
from itpm.reports.compliance_report import ControlState, assess, compliance_sections
from itpm.standard_file import load_standard

REPO = Path(__file__).resolve().parents[2]
HOSTS = ("h1", "h2", "h3")
INVENTORY = Inventory(
    path=Path("/x/hosts.yml"),
    hosts={h: InventoryHost(name=h, address=f"10.0.0.{i}", groups=("web",)) for i, h in enumerate(HOSTS, 2)},
    groups={"all": HOSTS, "web": HOSTS},
)
STANDARD = Standard(
    id="mini",
    title="Mini",
    version="1",
    checks=Path("checks/compliance"),
    controls=(
        Control(
            id="SSH-01",
            title="Root keys only",
            severity=Severity.HIGH,
            rationale="r",
            checks=("test_root",),
            remediation=Remediation(role="compliance", tasks="ssh_root"),
        ),
        Control(
            id="SUDO-01",
            title="No passwordless sudo",
            severity=Severity.CRITICAL,
            rationale="r",
            checks=("test_sudo",),
            remediation=Remediation(role="compliance", tasks="sudo"),
        ),
        Control(
            id="NET-01",
            title="No redirects",
            severity=Severity.MEDIUM,
            rationale="r",
            checks=("test_redirects", "test_never_ran"),
            remediation=Remediation(role="compliance", tasks="net"),
        ),
    ),
)
TODAY = date(2026, 11, 22)
WAIVERS = (
    Waiver(control="SUDO-01", hosts=("h1", "h2"), owner="Dana", reason="lab automation", expires=date(2027, 1, 31)),
    Waiver(control="SUDO-01", hosts=("h3",), owner="Dana", reason="old", expires=date(2026, 11, 21)),
    Waiver(control="SSH-01", hosts=("gone-host",), owner="Dana", reason="decommissioned", expires=date(2027, 1, 1)),
)


def _audit(
    stage: str, failed: dict[str, list[str]], checks: tuple[str, ...] = ("test_root", "test_sudo")
) -> StepAudited:
    return StepAudited(
        run_id="r",
        project="p",
        step="remediate",
        stage=stage,
        checks=list(checks),
        passed=[h for h in HOSTS if h not in failed],
        failed=failed,
    )


def test_waivers_hold_through_their_expiry_date_and_ignore_hosts_that_are_gone() -> None:
    active, expired = waivers_by_host(WAIVERS, INVENTORY, TODAY)
    assert {h: sorted(c) for h, c in active.items()} == {"h1": ["SUDO-01"], "h2": ["SUDO-01"]}
    assert {h: sorted(c) for h, c in expired.items()} == {"h3": ["SUDO-01"]}
    active_later, _ = waivers_by_host(WAIVERS, INVENTORY, date(2027, 2, 1))
    assert active_later == {}


def test_remediation_skips_waived_controls_only_where_the_waiver_holds() -> None:
    active, _ = waivers_by_host(WAIVERS, INVENTORY, TODAY)
    variables = remediation_vars(STANDARD, active)
    assert variables["itpm_compliance_waived"] == {"h1": ["SUDO-01"], "h2": ["SUDO-01"]}
    assert variables["itpm_compliance_controls"][0] == {"id": "SSH-01", "role": "compliance", "tasks": "ssh_root"}


def test_each_control_on_each_host_gets_a_state_and_evidence() -> None:
    active, expired = waivers_by_host(WAIVERS, INVENTORY, TODAY)
    sudo = "test_sudo: rule NOPASSWD in /etc/sudoers.d/lab"
    before = assess(
        STANDARD,
        [_audit("before", {"h1": ["test_root: PermitRootLogin yes", sudo], "h2": [sudo], "h3": [sudo]})],
        HOSTS,
        active,
        expired,
    )
    assert before.state_of("SSH-01", "h1") is ControlState.FAILED
    assert before.state_of("SSH-01", "h2") is ControlState.PASSED
    assert before.state_of("SUDO-01", "h1") is ControlState.WAIVED
    assert before.state_of("SUDO-01", "h3") is ControlState.WAIVER_EXPIRED
    assert before.state_of("NET-01", "h1") is ControlState.NOT_AUDITED
    finding = next(f for f in before.findings if f.control.id == "SSH-01" and f.host == "h1")
    assert finding.evidence == "test_root: PermitRootLogin yes"
    # 3 passed/waived of the 6 audited pairs: SSH-01 on h2 and h3, SUDO-01 on h1 and h2 -> 4 of 6.
    assert before.compliant_percent == pytest.approx(100 * 4 / 6)

    after = assess(STANDARD, [_audit("after", {"h1": [sudo], "h2": [sudo]})], HOSTS, active, expired)
    summary, findings = compliance_sections(before, after)
    assert "Before: 67% compliant, 1 failing. After: 100% compliant, 0 failing, 2 waived" in summary.paragraphs[1]
    assert summary.table[0] == {
        "control": "SUDO-01",
        "severity": "critical",
        "title": "No passwordless sudo",
        "before": "2 waived, 1 waiver expired",
        "after": "1 passed, 2 waived",
    }
    waived = next(r for r in findings.table if r["state"] == "waived")
    assert "waiver by Dana until 2027-01-31: lab automation" in waived["evidence"]


@pytest.mark.parametrize("path", sorted((REPO / "standards").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_standards_validate_with_at_least_15_controls(path: Path) -> None:
    standard = load_standard(path)
    assert len(standard.controls) >= 15
    checks = "\n".join(p.read_text() for p in standard.checks.glob("test_*.py"))
    for control in standard.controls:
        for name in control.checks:
            assert f"def {name}(" in checks, f"{control.id} names check {name}, which {standard.checks} lacks"
        role = REPO / "playbooks" / "roles" / control.remediation.role / "tasks" / f"{control.remediation.tasks}.yml"
        assert role.is_file(), f"{control.id}: remediation {role} is missing"


def test_a_broken_standard_names_the_field(tmp_path: Path) -> None:
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "checks").mkdir()
    path = tmp_path / "s.yaml"
    path.write_text("id: s\ntitle: S\nversion: '1'\nchecks: checks\ncontrols:\n  - id: ssh1\n")
    with pytest.raises(StandardFileError) as raised:
        load_standard(path)
    assert "controls[0].id: String should match pattern" in str(raised.value)
    assert raised.value.exit_code == 2
