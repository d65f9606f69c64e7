"""Variables a project hands to its playbooks (as extra vars) and to its checks, and the names they may have.

A value the project file decides, such as a hardware spec, is written once and read by both.

>>> check_variable_name("hardware_spec")
'hardware_spec'
>>> check_variable_name("item")  # doctest: +SKIP
ValueError: variable 'item': Ansible sets it for every host and task; choose another name
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, JsonValue

__all__ = ["VariableName", "Variables", "check_variable_name"]

_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# Variables Ansible sets for every host and task. Extra vars outrank everything, so a project var named like one
# would replace it in every task: `item` breaks every loop, `inventory_hostname` makes each host think it is
# another. (`ansible_*` is refused as a prefix: connection settings belong in the inventory.)
_ANSIBLE_MAGIC = frozenset(
    {
        "environment",
        "group_names",
        "groups",
        "hostvars",
        "inventory_dir",
        "inventory_file",
        "inventory_hostname",
        "inventory_hostname_short",
        "item",
        "omit",
        "play_hosts",
        "playbook_dir",
        "role_name",
        "role_names",
        "role_path",
        "vars",
    }
)


def check_variable_name(name: str) -> str:
    """Return ``name`` if a project may pass it to playbooks as an extra var; raise ValueError saying why not."""
    if not _VARIABLE.fullmatch(name):
        raise ValueError(f"variable {name!r}: use letters, digits and underscores, not starting with a digit")
    if name.startswith("itpm_"):
        raise ValueError(f"variable {name!r}: names starting with itpm_ are set by itpm itself")
    if name.startswith("ansible_"):
        raise ValueError(
            f"variable {name!r}: ansible_* settings belong in the inventory (as extra vars they would override "
            "every host's connection settings, host key checking included)"
        )
    if name in _ANSIBLE_MAGIC:
        raise ValueError(f"variable {name!r}: Ansible sets it for every host and task; choose another name")
    return name


VariableName = Annotated[str, AfterValidator(check_variable_name)]

# Values a project hands to its playbooks (as extra vars) and to its checks (merged into ``host_vars``), so that
# a value the project file decides, such as a hardware spec, is written once and read by both.
Variables = dict[VariableName, JsonValue]
