"""Checks for playbooks/roles/netcfg, and the expected addresses and probes checks/network_mesh shares.

Expected values come from the inventory (group_vars/all/network.yml) and are derived as the role derives them
(playbooks/roles/netcfg/vars/main.yml): a member's segment address is ``netcfg_segment``'s network plus the
last octet of its ``ansible_host``. Members are resolved over the whole inventory, like the role does, because
a check in the first batch already expects flood entries and names for the members of later batches.
"""

from __future__ import annotations

import ipaddress
import json
import shlex
from dataclasses import dataclass
from typing import Any

import pytest
from testinfra.host import Host

from itpm.verification.backend import inventory_at

__all__ = ["NFT_TABLE", "Firewall", "Member", "Segment", "firewall_of", "ping", "probe_tcp", "segment_of"]

# netcfg's own nftables table (playbooks/roles/netcfg/defaults/main.yml): a name of the role, not a setting.
NFT_TABLE = "itpm_netcfg"

# Runs ON the checked host: connects to every (address, port) at once, 2 s each, and prints one outcome each.
# "refused" is an RST (nothing listens, nothing drops); "timeout" is silence (a firewall dropped the SYN).
_PROBE = """
import json, socket, sys, threading
targets = json.loads(sys.argv[1])
outcomes = {}
def probe(address, port):
    try:
        socket.create_connection((address, port), timeout=2).close()
        outcome = "open"
    except socket.timeout:
        outcome = "timeout"
    except ConnectionRefusedError:
        outcome = "refused"
    except OSError as error:
        outcome = "error: " + (error.strerror or str(error))
    outcomes[address + ":" + str(port)] = outcome
threads = [threading.Thread(target=probe, args=(a, p)) for a, p in targets]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps(outcomes))
"""


@dataclass(frozen=True)
class Member:
    """One host of the segment: ``Member(name='h2', lab_address='10.77.0.3', segment_address='10.78.0.3')``."""

    name: str
    lab_address: str
    segment_address: str

    def fqdn(self, domain: str) -> str:
        """Return its name on the segment: ``h2.app.lab.example.internal``."""
        return f"{self.name}.{domain}"


@dataclass(frozen=True)
class Segment:
    """The segment as the inventory describes it, seen from one host."""

    this: Member
    members: tuple[Member, ...]
    gateway: Member
    prefixlen: int
    service_network: str
    service_address: str

    @property
    def peers(self) -> tuple[Member, ...]:
        """Return every member but this host."""
        return tuple(m for m in self.members if m.name != self.this.name)

    @property
    def this_is_gateway(self) -> bool:
        """Return whether this host is the gateway (the owner of the service address)."""
        return self.this.name == self.gateway.name


def segment_of(host_vars: dict[str, Any], pytestconfig: pytest.Config) -> Segment:
    """Return the segment from the inventory the checks run with (``--ansible-inventory``) and this host's vars."""
    inventory = inventory_at(str(pytestconfig.getoption("ansible_inventory")))
    network = ipaddress.IPv4Network(host_vars["netcfg_segment"])
    members = tuple(
        Member(name, address, str(network.network_address + int(address.rsplit(".", 1)[1])))
        for name, address in ((n, inventory.host(n).address) for n in inventory.select(host_vars["netcfg_members"]))
    )
    by_name = {m.name: m for m in members}
    this, gateway = host_vars["inventory_hostname"], host_vars["netcfg_gateway"]
    assert this in by_name, f"{this} is not in netcfg_members ({host_vars['netcfg_members']!r})"
    assert gateway in by_name, f"netcfg_gateway {gateway} is not in netcfg_members ({host_vars['netcfg_members']!r})"
    service = ipaddress.IPv4Network(host_vars["netcfg_service_network"])
    return Segment(
        this=by_name[this],
        members=members,
        gateway=by_name[gateway],
        prefixlen=network.prefixlen,
        service_network=str(service),
        service_address=str(service.network_address + 1),
    )


def probe_tcp(host: Host, targets: list[tuple[str, int]]) -> dict[str, str]:
    """Connect from ``host`` to each target at once; return ``{'10.78.0.2:22': 'open', '10.78.0.2:8081': 'timeout'}``.

    Outcomes: ``open``, ``refused`` (RST), ``timeout`` (dropped), ``error: <reason>`` (no route, no name, ...).
    """
    command = f"python3 -c {shlex.quote(_PROBE)} {shlex.quote(json.dumps(targets))}"
    outcomes: dict[str, str] = json.loads(host.check_output(command))
    return outcomes


def ping(host: Host, address: str) -> bool:
    """Return whether ``address`` answers one ping from ``host`` within 2 s."""
    return bool(host.run("ping -c 1 -W 2 -q %s", address).rc == 0)


@dataclass(frozen=True)
class Firewall:
    """The input chain of netcfg's table: its policy and what each accept rule matches.

    ``accepts`` holds one mapping per accept rule, match to values, e.g. ``{'tcp dport': [22, 9100]}`` or
    ``{'ip saddr': ['10.77.0.2', '10.77.0.3'], 'udp dport': [4789]}``; ``policy`` is None without the table.
    """

    policy: str | None
    accepts: tuple[dict[str, list[Any]], ...]

    def accepted(self, match: str) -> list[Any]:
        """Return the values of every accept rule that matches on ``match`` alone: ``[22, 9100]``."""
        return sorted(v for rule in self.accepts if list(rule) == [match] for v in rule[match])


def firewall_of(host: Host) -> Firewall:
    """Read netcfg's table (``inet itpm_netcfg``) as nft lists it in JSON."""
    listing = host.run("nft -j list table inet %s", NFT_TABLE)
    if listing.rc != 0:
        return Firewall(policy=None, accepts=())
    objects = [next(iter(o.items())) for o in json.loads(listing.stdout)["nftables"]]
    chains = [body for kind, body in objects if kind == "chain" and body.get("hook") == "input"]
    if not chains:
        return Firewall(policy=None, accepts=())
    accepts = tuple(
        _matches(body["expr"])
        for kind, body in objects
        if kind == "rule" and body["chain"] == chains[0]["name"] and body["expr"][-1:] == [{"accept": None}]
    )
    return Firewall(policy=chains[0].get("policy"), accepts=accepts)


def _matches(expressions: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Return ``{'tcp dport': [22, 9100]}`` for a rule's match expressions (``meta iif``, ``ct state``, ...)."""
    found: dict[str, list[Any]] = {}
    for expression in expressions:
        match = expression.get("match")
        if match is None:
            continue
        left, right = match["left"], match["right"]
        if "payload" in left:
            key = f"{left['payload']['protocol']} {left['payload']['field']}"
        else:
            kind = next(iter(left))
            key = f"{kind} {left[kind].get('key', '')}".strip()
        values = right["set"] if isinstance(right, dict) and "set" in right else right
        found[key] = sorted(values, key=str) if isinstance(values, list) else [values]
    return found
