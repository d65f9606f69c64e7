"""What the lab writes for its controller: the inventory groups and connection settings, and known_hosts."""

from __future__ import annotations

from pathlib import Path

import yaml

from itpm.lab.inventory_file import LabInventoryHost, group_of, render_inventory, render_known_hosts

HOSTS = [LabInventoryHost(f"h{i}", i, f"10.77.0.{i + 1}", f"ssh-ed25519 KEY{i} h{i}") for i in range(1, 7)]


def test_groups_are_stable_by_index() -> None:
    assert [group_of(i) for i in range(1, 7)] == ["web", "web", "db", "web", "spare", "web"]


def test_inventory_keeps_host_key_checking_strict() -> None:
    text = render_inventory(lab="lab", hosts=HOSTS, private_key=Path("/s/id"), known_hosts=Path("/s/kh"))
    document = yaml.safe_load(text)
    lab_vars = document["all"]["vars"]
    assert "-o StrictHostKeyChecking=yes" in lab_vars["ansible_ssh_common_args"]
    assert "-o UserKnownHostsFile=/s/kh" in lab_vars["ansible_ssh_common_args"]
    assert lab_vars["itpm_known_hosts_file"] == "/s/kh"
    children = document["all"]["children"]
    assert list(children["db"]["hosts"]) == ["h3"]
    assert children["web"]["hosts"]["h6"] == {"ansible_host": "10.77.0.7"}


def test_known_hosts_names_host_and_address() -> None:
    lines = render_known_hosts(HOSTS[:2]).splitlines()
    assert lines == ["h1,10.77.0.2 ssh-ed25519 KEY1", "h2,10.77.0.3 ssh-ed25519 KEY2"]


def test_inventory_keeps_hosts_where_a_project_moved_them() -> None:
    text = render_inventory(
        lab="lab", hosts=HOSTS, private_key=Path("/s/id"), known_hosts=Path("/s/kh"), moved={"h5": "db"}
    )
    children = yaml.safe_load(text)["all"]["children"]
    assert list(children["db"]["hosts"]) == ["h3", "h5"]
    assert "spare" not in children
