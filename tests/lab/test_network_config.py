"""The network configuration project on a lab of its own: segment, route, firewall, names; exact rollback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from itpm.execution.runner import run_playbook
from itpm.log.events import HostApplied, RunFinished
from itpm.verification.runner import verify

from .conftest import REPO, own_lab
from .it_projects import Site

HOSTS = ["h1", "h2", "h3", "h4"]
# Everything the project may touch, as the kernel and the files say it: links, addresses, routes, firewall,
# resolver and hosts file. Rollback must bring every line back exactly.
STATE = (
    'ip -d -j link show | python3 -c \'import json,sys; print(sorted((l["ifname"], l.get("operstate"), '
    'l.get("mtu")) for l in json.load(sys.stdin)))\'; ip -j addr show; ip -j route show table all; '
    "nft list ruleset; sha256sum /etc/hosts /etc/resolv.conf; stat -c '%n %a %U %G' /etc/hosts /etc/resolv.conf"
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, prefect_api: dict[str, str]) -> Iterator[Site]:
    base = tmp_path_factory.mktemp("netcfg")
    with own_lab(base, "n", len(HOSTS)) as lab:
        # The status daemon's port is one of the allowed ports: give the hosts their baseline first.
        baseline = run_playbook(REPO / "playbooks" / "baseline.yml", lab.inventory, lab.settings)
        assert baseline.succeeded, baseline.stdout_tail
        yield Site(lab, base, prefect_api)


def _state(site: Site) -> dict[str, str]:
    return {h: site.lab.host(h).check_output(STATE) for h in HOSTS}


def test_segment_rolls_out_idempotently_and_rolls_back_exactly(site: Site) -> None:
    before = _state(site)
    project = site.copy("projects/network-config.yaml")

    first = site.itpm("run", str(project), "--as", "dana")
    assert first.returncode == 0, first.stdout + first.stderr
    runs = site.log.run_ids()
    finished = site.log.events(runs[-1], kinds=["run_finished"])
    assert isinstance(finished[-1], RunFinished) and finished[-1].status == "completed"

    mesh = verify([REPO / "checks" / "network_mesh"], site.lab.inventory, site.lab.settings)
    assert mesh.succeeded, {h: [c.summary for c in r.failures] for h, r in mesh.failed.items()}
    assert len(mesh.hosts["h2"].checks) >= 4

    second = site.itpm("run", str(project), "--as", "dana")
    assert second.returncode == 0, second.stdout + second.stderr
    again = [e for e in site.log.events(site.log.run_ids()[-1], kinds=["host_applied"]) if isinstance(e, HostApplied)]
    assert again and all(e.changed_tasks == 0 for e in again), [(e.host, e.changed_tasks) for e in again]

    undone = run_playbook(REPO / "playbooks" / "network-config-rollback.yml", site.lab.inventory, site.lab.settings)
    assert undone.succeeded, undone.failed
    after = _state(site)
    for host in HOSTS:
        assert after[host] == before[host], f"{host} differs after rollback"
    twice = run_playbook(REPO / "playbooks" / "network-config-rollback.yml", site.lab.inventory, site.lab.settings)
    assert twice.succeeded and not twice.changed


def test_checks_fail_on_hosts_without_the_segment(site: Site) -> None:
    result = verify([REPO / "checks" / "network"], site.lab.inventory, site.lab.settings, limit="h2")
    failures = " ".join(c.summary for c in result.hosts["h2"].failures)
    assert not result.succeeded and "br-app" in failures
