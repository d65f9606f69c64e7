"""Hosts that break: a dead sshd, a broken service, a changed host key, a dead link. Results name the host."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from itpm.execution.runner import run_playbook
from itpm.lab import faults
from itpm.lab.fleet import lab_status
from itpm.models.results import CheckOutcome, HostStatus
from itpm.verification.runner import verify

from .conftest import BASELINE, BASELINE_CHECKS, Lab, wrong_host_key


@pytest.fixture
def sshd_killed_on_h2(converged: Lab) -> Iterator[Lab]:
    assert faults.kill_sshd(converged.name, "h2") >= 1
    yield converged
    faults.start_sshd(converged.name, "h2")


@pytest.mark.reliability("sshd killed on a host")
def test_host_with_sshd_killed_is_unreachable_while_others_succeed(
    sshd_killed_on_h2: Lab, record_property: Callable[[str, object], None]
) -> None:
    lab = sshd_killed_on_h2
    assert dict((h.name, h.state.value) for h in lab_status(lab.settings, name=lab.name).hosts)["h2"] == "sshd down"
    result = run_playbook(BASELINE, lab.inventory, lab.settings)
    assert list(result.unreachable) == ["h2"]
    h2 = result.hosts["h2"]
    assert h2.failure is not None and "Connection refused" in h2.failure.message
    assert not h2.failure.host_key_mismatch
    assert sorted(result.ok) == ["h1", "h3", "h4", "h5"]
    verification = verify([BASELINE_CHECKS], lab.inventory, lab.settings)
    assert list(verification.failed) == ["h2"] and verification.hosts["h2"].unreachable
    assert all("h2 (10.77." in c.message and "unreachable" in c.message for c in verification.hosts["h2"].checks)
    record_property("observed", "playbook and checks name h2 unreachable (connection refused); the others pass")


def test_broken_host_fails_its_checks_with_the_right_message(converged: Lab) -> None:
    h3 = converged.host("h3")
    h3.run("/etc/init.d/itpm-statusd stop && chmod 0777 /srv/itpm/releases")
    verification = verify([BASELINE_CHECKS], converged.inventory, converged.settings)
    assert list(verification.failed) == ["h3"]
    failures = {c.check.split("::")[1]: c for c in verification.hosts["h3"].failures}
    assert set(failures) == {
        "test_statusd_runs_as_service_account",
        "test_statusd_listening",
        "test_statusd_answers_with_hostname",
        "test_directory_tree",
    }
    assert all(c.outcome is CheckOutcome.FAILED for c in failures.values())
    assert failures["test_statusd_listening"].message == "nothing listens on tcp port 9100"
    assert failures["test_directory_tree"].message == (
        "/srv/itpm/releases is itpm-svc:itpm-svc 777, expected itpm-svc:itpm-svc 755"
    )


@pytest.fixture
def wrong_key_for_h5(converged: Lab) -> Iterator[Lab]:
    with wrong_host_key(converged, "h5"):
        yield converged


@pytest.mark.reliability("changed host key")
def test_changed_host_key_is_refused_by_ansible_and_checks(
    wrong_key_for_h5: Lab, record_property: Callable[[str, object], None]
) -> None:
    lab = wrong_key_for_h5
    result = run_playbook(BASELINE, lab.inventory, lab.settings, limit="h4,h5")
    assert result.hosts["h4"].status is HostStatus.OK
    h5 = result.hosts["h5"]
    assert h5.status is HostStatus.UNREACHABLE and h5.failure is not None and h5.failure.host_key_mismatch
    verification = verify([BASELINE_CHECKS], lab.inventory, lab.settings, limit="h4,h5")
    assert verification.hosts["h4"].ok and verification.hosts["h5"].unreachable
    message = verification.hosts["h5"].checks[0].message
    assert "host key does not match" in message and "ssh-keygen -R 10.77." in message
    record_property("observed", "refused by Ansible and checks; the message gives the ssh-keygen -R command")


@pytest.fixture
def link_down_on_h1(converged: Lab) -> Iterator[Lab]:
    faults.link_down(converged.name, "h1")
    yield converged
    faults.link_up(converged.name, "h1")


@pytest.mark.reliability("link down on a host")
def test_host_whose_link_is_down_times_out_as_unreachable(
    link_down_on_h1: Lab, record_property: Callable[[str, object], None]
) -> None:
    # Connections time out instead of being refused: the run must name the host, not hang.
    result = run_playbook(BASELINE, link_down_on_h1.inventory, link_down_on_h1.settings, limit="h1,h3")
    assert result.hosts["h1"].status is HostStatus.UNREACHABLE
    assert result.hosts["h3"].status is HostStatus.OK
    assert result.duration_s < link_down_on_h1.settings.ansible_timeout
    record_property("observed", f"h1 unreachable after the connect timeout ({result.duration_s:.0f} s run), h3 ok")
