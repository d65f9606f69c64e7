"""br-app and vx-app exist and are up, vx-app with the inventory's VNI, port and underlay, flooding to every peer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from testinfra.host import Host

from checks.network import segment_of


def _link(host: Host, name: str) -> dict[str, Any] | None:
    shown = host.run("ip -j -d link show dev %s", name)
    links: list[dict[str, Any]] = json.loads(shown.stdout) if shown.rc == 0 else []
    return links[0] if links else None


def test_bridge_exists_and_is_up(host: Host, host_vars: dict[str, Any]) -> None:
    name = host_vars["netcfg_bridge"]
    link = _link(host, name)
    assert link is not None, f"bridge {name} does not exist"
    kind = link.get("linkinfo", {}).get("info_kind")
    assert kind == "bridge", f"{name} is a {kind} link, expected a bridge"
    assert "UP" in link["flags"], f"bridge {name} is down (flags {','.join(link['flags'])})"


def test_vxlan_link_settings(host: Host, host_vars: dict[str, Any]) -> None:
    name = host_vars["netcfg_vxlan_interface"]
    link = _link(host, name)
    assert link is not None, f"VXLAN link {name} does not exist"
    info = link.get("linkinfo", {})
    assert info.get("info_kind") == "vxlan", f"{name} is a {info.get('info_kind')} link, expected vxlan"
    data = info.get("info_data", {})
    expected = {
        "id": host_vars["netcfg_vni"],
        "port": host_vars["netcfg_vxlan_port"],
        "local": host_vars["ansible_host"],
        "link": host_vars["netcfg_underlay_interface"],
        "learning": False,
    }
    wrong = {key: data.get(key) for key, value in expected.items() if data.get(key) != value}
    wanted = {key: expected[key] for key in wrong}
    assert not wrong, f"{name} has {wrong}, expected {wanted}"
    assert link.get("master") == host_vars["netcfg_bridge"], (
        f"{name} is not a port of {host_vars['netcfg_bridge']} (its master is {link.get('master')})"
    )
    assert "UP" in link["flags"], f"VXLAN link {name} is down (flags {','.join(link['flags'])})"


def test_vxlan_floods_to_every_other_member(host: Host, host_vars: dict[str, Any], pytestconfig: pytest.Config) -> None:
    name = host_vars["netcfg_vxlan_interface"]
    expected = sorted(m.lab_address for m in segment_of(host_vars, pytestconfig).peers)
    shown = host.run("bridge -j fdb show dev %s", name)
    entries: list[dict[str, Any]] = json.loads(shown.stdout) if shown.rc == 0 and shown.stdout.strip() else []
    seen = sorted(e["dst"] for e in entries if e.get("mac") == "00:00:00:00:00:00" and "dst" in e)
    assert seen == expected, f"{name} floods to {seen or 'no host'}, expected the other members {expected}"
