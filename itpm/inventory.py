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
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, JsonValue

from itpm.ansible_inventory import list_inventory, reading_inputs, reading_key
from itpm.errors import InventoryError
from itpm.file_memo import FileMemo, Seen
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


# Each load_inventory caller gets its own deep copy: the models are frozen, their dicts (vars) are not.
_LOADED: FileMemo[Inventory] = FileMemo(copy=lambda inventory: inventory.model_copy(deep=True))


def load_inventory(path: Path) -> Inventory:
    """Parse an inventory with Ansible and return its typed view.

    Parsed once per process while its files and Ansible's environment are unchanged (itpm/ansible_inventory.py
    lists what counts): a repeated load answers from memory, and a load after any change (the engine moving hosts
    between groups) parses again.

    Raises InventoryError for a missing file, a file Ansible cannot parse, an inventory without hosts, or a host
    or group name, address, port, user or key path that itpm cannot pass on safely (each says which and where).
    """
    return _LOADED.get(reading_key(path), lambda: _read_inventory(path))


def _read_inventory(path: Path) -> tuple[Inventory, Seen | None]:
    """Return the typed view of ``path`` and how its inputs were before it was read."""
    seen = reading_inputs(path)
    return _parse_inventory(path), seen


def _parse_inventory(path: Path) -> Inventory:
    if not path.exists():
        raise InventoryError(
            f"inventory {path} does not exist",
            fix="give an existing inventory file or directory (the lab's is made by `itpm lab up`)",
        )
    if path.is_file() and path.suffix in (".yml", ".yaml"):
        # Ansible's yaml plugin drops line and column, and only warns about a group it cannot read.
        _check_yaml_shape(read_yaml(path, InventoryError, "inventory"), path)
    data = list_inventory(path)
    hostvars: dict[str, dict[str, Any]] = data.get("_meta", {}).get("hostvars", {})
    members = _group_members(data)
    if not members.get("all"):
        raise InventoryError(f"inventory {path} defines no hosts", fix="add hosts under all: or a group")
    for group in members:
        _check_name(path, "group", group)
    hosts = {}
    for name in members["all"]:
        _check_name(path, "host", name)
        variables = hostvars.get(name, {})
        hosts[name] = InventoryHost(
            name=name,
            address=_address(path, name, variables.get("ansible_host", name)),
            port=_port(path, name, variables.get("ansible_port", 22)),
            user=_text_var(path, name, variables, "ansible_user"),
            private_key=_path_var(path, name, variables, "ansible_ssh_private_key_file", "ansible_private_key_file"),
            known_hosts=_path_var(path, name, variables, "itpm_known_hosts_file"),
            groups=tuple(sorted(g for g, hs in members.items() if name in hs and g not in ("all", "ungrouped"))),
            vars=variables,
        )
    return Inventory(path=path.resolve(), hosts=hosts, groups={g: tuple(hs) for g, hs in members.items()})


# Host and group names travel as Ansible limits (`h1,h2`), testinfra host specs (`itpm://h1`), file names and
# log keys. A name with `,` `:` `!` `&` `*` `[` or `~` would be read back as a pattern and select other hosts, so
# names are hostname-like: letters, digits, dots, dashes and underscores. Addresses may add `:` and `%` (IPv6).
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}$")
_ADDRESS = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:%-]{0,252}$")
# A host as a YAML inventory writes it, before Ansible expands ranges (`web[01:10]`) and ports (`h1:2222`).
_HOST_ENTRY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:\[\]-]{0,252}$")
_MAX_PORT = 65535
_GROUP_KEYS = ("hosts", "children", "vars")


def _check_name(path: Path, what: str, name: str, pattern: re.Pattern[str] = _NAME) -> None:
    if not pattern.fullmatch(name):  # fullmatch: `$` alone would let a trailing newline through
        raise InventoryError(
            f"inventory {path}: {what} name {name!r} has characters a {what} name cannot have",
            fix=f"name the {what} with letters, digits, dots, dashes and underscores (it is used in host patterns)"
            + ("; put an address in ansible_host" if what == "host" else ""),
        )


def _address(path: Path, host: str, value: object) -> str:
    # An address starting with `-` would reach ssh as an option (`-oProxyCommand=...`), one with spaces or
    # quotes as several words: it must look like a host name or an IP address.
    if isinstance(value, str | int) and not isinstance(value, bool) and _ADDRESS.fullmatch(str(value)):
        return str(value)
    raise InventoryError(
        f"inventory {path}: host {host!r} has ansible_host {_shown(value)}, which is not a host name or IP address",
        fix="give ansible_host as a DNS name or an IPv4/IPv6 address, like 10.0.0.5",
    )


def _port(path: Path, host: str, value: object) -> int:
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if text.isdecimal() and 1 <= int(text) <= _MAX_PORT:
        return int(text)
    raise InventoryError(
        f"inventory {path}: host {host!r} has ansible_port {_shown(value)}",
        fix=f"give ansible_port as a number from 1 to {_MAX_PORT}",
    )


def _text_var(path: Path, host: str, variables: Mapping[str, Any], name: str) -> str | None:
    value = variables.get(name)
    if value is None or (isinstance(value, str) and value and not value.startswith("-")):
        return value
    raise InventoryError(
        f"inventory {path}: host {host!r} has {name} {_shown(value)}",
        fix=f"give {name} as a plain name (text that does not start with a dash)",
    )


def _path_var(path: Path, host: str, variables: Mapping[str, Any], *names: str) -> Path | None:
    for name in names:
        value = variables.get(name)
        if value is None or value == "":
            continue
        if isinstance(value, str) and "\0" not in value:
            return Path(value).expanduser()
        raise InventoryError(
            f"inventory {path}: host {host!r} has {name} {_shown(value)}, which is not a file path",
            fix=f"give {name} as the path of a file, like ~/.ssh/id_ed25519",
        )
    return None


def _shown(value: object) -> str:
    """Return ``value`` for a message: quoted and cut short (it may be anything a file can hold)."""
    text = repr(value) if isinstance(value, str) else _yaml_kind(value)
    return text if len(text) <= 80 else text[:77] + "..."  # noqa: PLR2004 - a line's worth


def _yaml_kind(value: object) -> str:
    """Return what ``value`` is in YAML's words: ``'a mapping'``, ``'a list'``, ``'nothing'``, ``"'x'"``, ``'5'``."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return repr(value) if isinstance(value, str | int | float) else f"the value {value}"


def _check_yaml_shape(document: object, path: Path) -> None:
    """Raise InventoryError where a YAML inventory is not shaped as Ansible reads it.

    Ansible skips a group it cannot read with a warning (``web: 5``, a misspelt ``host:``), which silently
    leaves hosts out of a rollout; its own errors name Python classes. This says what and where, in YAML terms.
    """
    if document is None:
        raise InventoryError(f"inventory {path} is empty", fix="add hosts under all: or a group")
    if not isinstance(document, dict):
        raise InventoryError(
            f"inventory {path} is {_yaml_kind(document)}, not a mapping of groups",
            fix="start with `all:` and give hosts and children under it, like inventory/lab/hosts.yml",
        )
    for group, body in document.items():
        _check_group(path, group, body, where="")


def _check_group(path: Path, group: object, body: object, where: str) -> None:
    if not isinstance(group, str):
        raise InventoryError(
            f"inventory {path}: group name {group}{where} is not text", fix="write group names as text"
        )
    _check_name(path, "group", group)
    here = f"group {group!r}{where}"
    if body is None:
        return
    if not isinstance(body, dict):
        raise InventoryError(
            f"inventory {path}: {here} is {_yaml_kind(body)}",
            fix="a group is a mapping with hosts, children and vars (or empty)",
        )
    for key, value in body.items():
        if key not in _GROUP_KEYS:
            raise InventoryError(
                f"inventory {path}: {here} has key {key!r}; a group has only hosts, children and vars",
                fix="rename or remove it (Ansible would skip it, and the group would silently lose those hosts)",
            )
        if value is None:
            continue
        if not isinstance(value, dict):
            raise InventoryError(
                f"inventory {path}: {key} of {here} is {_yaml_kind(value)}, not a mapping",
                fix=f"write {key} as a mapping, like `hosts: {{h1: {{ansible_host: 10.0.0.5}}}}`",
            )
        if key == "children":
            for child, child_body in value.items():
                _check_group(path, child, child_body, where=f" (child of {group!r})")
        elif key == "hosts":
            for host, host_vars in value.items():
                _check_host(path, host, host_vars, here)
        else:
            _check_var_names(path, value, f"vars of {here}")


def _check_host(path: Path, host: object, host_vars: object, group: str) -> None:
    if not isinstance(host, str):
        raise InventoryError(
            f"inventory {path}: host {host} in {group} is not text", fix="quote the host name, like '10': {}"
        )
    _check_name(path, "host", host, _HOST_ENTRY)
    if host_vars is not None and not isinstance(host_vars, dict):
        raise InventoryError(
            f"inventory {path}: host {host!r} in {group} has {_yaml_kind(host_vars)} where its vars go",
            fix="give the host's vars as a mapping, like `h1: {ansible_host: 10.0.0.5}`, or nothing",
        )
    _check_var_names(path, host_vars or {}, f"vars of host {host!r}")


def _check_var_names(path: Path, variables: Mapping[object, object], where: str) -> None:
    for name in variables:
        if not isinstance(name, str):
            raise InventoryError(f"inventory {path}: {where} has a name {name} that is not text", fix="quote it")


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
