"""A typed, read-only view of an Ansible inventory: the one host list for Ansible and for testinfra.

The inventory is parsed by Ansible itself (``ansible-inventory --list``, 0.3 s here), so group_vars,
host_vars and variable precedence are exactly what a playbook sees. Host patterns (``web:&db:!h3``) are
resolved here over that data, following Ansible's rules: unions first, then ``&`` intersections, then ``!``
exclusions. Unlike Ansible, a positive term that matches nothing is an error, not a warning: in a rollout
tool a typo in a limit silently narrows what gets changed.

>>> inv = Inventory(path=Path("hosts.yml"), hosts={}, groups={"web": ("h1", "h2"), "db": ("h3",)})
>>> select_hosts("web:db:!h2", ["h1", "h2", "h3"], inv.groups)
('h1', 'h3')
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, JsonValue

from itpm.errors import InventoryError
from itpm.executables import executable
from itpm.yaml_file import read_yaml

__all__ = ["Inventory", "InventoryHost", "load_inventory", "natural_key", "select_hosts"]

_SUBSCRIPT = re.compile(r"^(?P<base>.+)\[(?P<start>-?\d+)?(?P<colon>:)?(?P<end>-?\d+)?\]$")


def natural_key(name: str) -> tuple[str | int, ...]:
    """Return a sort key that puts ``h2`` before ``h10``."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


class InventoryHost(BaseModel):
    """One host and how to reach it, from its inventory variables."""

    model_config = ConfigDict(frozen=True)

    name: str
    address: str  # ansible_host, or the name itself
    port: int = 22
    user: str | None = None
    private_key: Path | None = None
    known_hosts: Path | None = None  # itpm_known_hosts_file; None means the user's ~/.ssh/known_hosts
    groups: tuple[str, ...] = ()
    vars: dict[str, JsonValue] = {}


class Inventory(BaseModel):
    """The hosts and groups of one inventory file or directory."""

    model_config = ConfigDict(frozen=True)

    path: Path
    hosts: dict[str, InventoryHost]
    groups: dict[str, tuple[str, ...]]  # every group with all its hosts, children's included

    def select(self, pattern: str) -> tuple[str, ...]:
        """Return the names of the hosts ``pattern`` selects, in natural order: ``('h1', 'h2')``.

        Raises InventoryError naming the term that matched nothing, with the groups there are.
        """
        try:
            return select_hosts(pattern, sorted(self.hosts, key=natural_key), self.groups)
        except InventoryError as error:
            raise InventoryError(f"{self.path}: {error.message}", fix=error.fix) from None

    def host(self, name: str) -> InventoryHost:
        """Return the host called ``name``; InventoryError if the inventory has no such host."""
        try:
            return self.hosts[name]
        except KeyError:
            raise InventoryError(
                f"{self.path}: no host named {name!r}",
                fix=f"use one of: {', '.join(sorted(self.hosts, key=natural_key)[:20])}",
            ) from None


def select_hosts(pattern: str, ordered_hosts: Sequence[str], groups: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """Resolve an Ansible host pattern over ``ordered_hosts``; return the matches in that order."""
    terms = [t.strip() for t in re.split(r"[,:](?![^\[]*\])", pattern) if t.strip()]
    if not terms:
        raise InventoryError(f"empty host pattern {pattern!r}", fix="give a host, a group or 'all'")
    unions = [t for t in terms if not t.startswith(("&", "!"))]
    selected: set[str] = set() if unions else set(ordered_hosts)
    for term in unions:
        selected |= _match_term(term, ordered_hosts, groups)
    for term in (t[1:] for t in terms if t.startswith("&")):
        selected &= _match_term(term, ordered_hosts, groups)
    for term in (t[1:] for t in terms if t.startswith("!")):
        selected -= _match_term(term, ordered_hosts, groups, required=False)
    result = tuple(h for h in ordered_hosts if h in selected)
    if not result:
        raise InventoryError(
            f"host pattern {pattern!r} selects no host",
            fix=f"groups here: {', '.join(sorted(groups))}; check the & and ! terms",
        )
    return result


def _match_term(
    term: str, ordered_hosts: Sequence[str], groups: Mapping[str, Sequence[str]], *, required: bool = True
) -> set[str]:
    matched = _expand(term, ordered_hosts, groups)
    if required and not matched:
        raise InventoryError(
            f"{term!r} matches no host or group",
            fix=f"groups here: {', '.join(sorted(groups))}; hosts look like {', '.join(ordered_hosts[:3])}",
        )
    return matched


def _expand(term: str, ordered_hosts: Sequence[str], groups: Mapping[str, Sequence[str]]) -> set[str]:
    if term in ("all", "*"):
        return set(ordered_hosts)
    subscript = _SUBSCRIPT.match(term)
    if subscript and subscript["base"] in groups:
        members = [h for h in ordered_hosts if h in set(groups[subscript["base"]])]
        start = int(subscript["start"]) if subscript["start"] else 0
        if subscript["colon"]:
            end = int(subscript["end"]) + 1 if subscript["end"] else len(members)
            return set(members[start:end])
        return set(members[start : start + 1] if start >= 0 else members[start:][:1])
    if term.startswith("~"):
        try:
            regex = re.compile(term[1:])
        except re.error as error:
            raise InventoryError(f"bad regular expression in host pattern {term!r}: {error}") from None
        names = [n for n in [*ordered_hosts, *groups] if regex.match(n)]
    elif any(c in term for c in "*?["):
        names = [n for n in [*ordered_hosts, *groups] if fnmatch.fnmatchcase(n, term)]
    else:
        names = [term]
    hosts: set[str] = set()
    known = set(ordered_hosts)
    for name in names:
        if name in groups:
            hosts.update(groups[name])
        elif name in known:
            hosts.add(name)
    return hosts


def load_inventory(path: Path) -> Inventory:
    """Parse an inventory with Ansible and return its typed view.

    Raises InventoryError for a missing file, a file Ansible cannot parse, or an inventory without hosts.
    """
    if not path.exists():
        raise InventoryError(
            f"inventory {path} does not exist",
            fix="give an existing inventory file or directory (the lab's is made by `itpm lab up`)",
        )
    if path.is_file() and path.suffix in (".yml", ".yaml"):
        read_yaml(path, InventoryError, "inventory")  # Ansible's yaml plugin drops line and column
    data = _ansible_inventory_list(path)
    hostvars: dict[str, dict[str, Any]] = data.get("_meta", {}).get("hostvars", {})
    members = _group_members(data)
    if not members.get("all"):
        raise InventoryError(f"inventory {path} defines no hosts", fix="add hosts under all: or a group")
    hosts = {}
    for name in members["all"]:
        variables = hostvars.get(name, {})
        key = variables.get("ansible_ssh_private_key_file") or variables.get("ansible_private_key_file")
        known_hosts = variables.get("itpm_known_hosts_file")
        hosts[name] = InventoryHost(
            name=name,
            address=str(variables.get("ansible_host", name)),
            port=int(variables.get("ansible_port", 22)),
            user=variables.get("ansible_user"),
            private_key=Path(key).expanduser() if key else None,
            known_hosts=Path(known_hosts).expanduser() if known_hosts else None,
            groups=tuple(sorted(g for g, hs in members.items() if name in hs and g not in ("all", "ungrouped"))),
            vars=variables,
        )
    return Inventory(path=path.resolve(), hosts=hosts, groups={g: tuple(hs) for g, hs in members.items()})


def _group_members(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """Return each group's hosts, including the hosts of its child groups, recursively."""

    def members(group: str, seen: frozenset[str]) -> list[str]:
        entry = data.get(group, {})
        found = list(entry.get("hosts", []))
        for child in entry.get("children", []):
            if child not in seen:
                found += members(child, seen | {child})
        return found

    groups = [g for g in data if g != "_meta"]
    return {g: sorted(set(members(g, frozenset({g}))), key=natural_key) for g in groups}


def _ansible_inventory_list(path: Path) -> dict[str, Any]:
    plugin = "yaml" if path.suffix in (".yml", ".yaml") else ("ini" if path.is_file() else "auto,yaml,ini")
    env = {
        **os.environ,
        "ANSIBLE_INVENTORY_ENABLED": plugin,
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True",
        "ANSIBLE_NOCOLOR": "True",
    }
    done = subprocess.run(
        [executable("ansible-inventory"), "-i", str(path), "--list"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise InventoryError(
            f"inventory {path} cannot be parsed: {_ansible_error_summary(done.stderr)}",
            fix="fix the file at the line given (it must be a valid Ansible YAML or INI inventory)",
        )
    parsed: dict[str, Any] = json.loads(done.stdout)
    return parsed


def _ansible_error_summary(stderr: str) -> str:
    """Pick the cause and its origin out of Ansible's layered error text."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    cause = next((lines[i + 1] for i, line in enumerate(lines) if line == "<<< caused by >>>"), None)
    origin = next((line for line in lines if line.startswith("Origin:") and ":" in line[8:]), None)
    if cause:
        return f"{cause} ({origin})" if origin else cause
    errors = [line for line in lines if "ERROR" in line or "WARNING" in line]
    return errors[-1] if errors else (lines[-1] if lines else "ansible-inventory failed")
