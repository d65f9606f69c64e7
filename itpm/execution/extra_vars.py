r"""Extra vars as data: the file a playbook run reads them from, with every text value marked ``!unsafe``.

Ansible renders ``{{ ... }}`` in any variable a task reads, and extra vars outrank every other variable. A project
var (or ``itpm recover --var``) such as ``"{{ lookup('pipe', 'touch /tmp/x') }}"`` would run a command on the
controller the moment a task used it. What a project passes is data: ``!unsafe`` makes Ansible use each text as
written, while playbooks still read, compare, loop over and template *with* the values as usual.

>>> render_extra_vars({"spec": {"disk": "/srv"}, "n": 2})
"n: 2\nspec:\n  disk: !unsafe '/srv'\n"
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from itpm.atomic_file import write_atomic

__all__ = ["render_extra_vars", "write_extra_vars"]

# ansible-runner passes `-e @<private data dir>/env/extravars` when this file exists.
_RUNNER_FILE = Path("env") / "extravars"


class _Unsafe(str):
    """A text value to be written with Ansible's ``!unsafe`` tag."""

    __slots__ = ()


class _ExtraVarsDumper(yaml.SafeDumper):
    """Safe YAML, plus ``!unsafe`` text; keys stay plain (they are names, and never templated)."""


def _represent_unsafe(dumper: yaml.SafeDumper, value: _Unsafe) -> yaml.ScalarNode:
    return dumper.represent_scalar("!unsafe", str(value), style="'")


_ExtraVarsDumper.add_representer(_Unsafe, _represent_unsafe)


def _as_data(value: Any) -> Any:  # noqa: ANN401 - extra vars are any JSON-like shape
    if isinstance(value, str):
        return _Unsafe(value)
    if isinstance(value, Mapping):
        return {str(key): _as_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_as_data(item) for item in value]
    return value  # numbers, booleans and null carry no template


def render_extra_vars(extravars: Mapping[str, Any]) -> str:
    """Return ``extravars`` as the YAML Ansible reads with ``-e @file``: every text value tagged ``!unsafe``."""
    return yaml.dump(_as_data(dict(extravars)), Dumper=_ExtraVarsDumper, allow_unicode=True)


def write_extra_vars(private_data_dir: Path, extravars: Mapping[str, Any]) -> None:
    """Write the run's extra vars where ansible-runner hands them to Ansible, replacing any earlier file.

    Mode 0600: a value may be sensitive. An empty mapping is written too, so a reused directory keeps no stale vars.
    """
    write_atomic(private_data_dir / _RUNNER_FILE, render_extra_vars(extravars), mode=0o600)
