"""The host's net sysctls have the values ``hardware_spec`` names (net.* only: the rest is the shared kernel's)."""

from __future__ import annotations

from typing import Any

from testinfra.host import Host


def _normalised(value: object) -> str:
    # Multi-value sysctls are tab-separated in /proc and space-separated in YAML.
    return " ".join(str(value).split())


def test_net_sysctls_as_spec(host: Host, host_vars: dict[str, Any]) -> None:
    wrong = []
    for key, expected in host_vars["hardware_spec"]["sysctl"].items():
        setting = host.file("/proc/sys/" + key.replace(".", "/"))
        if not setting.exists:
            wrong.append(f"{key} does not exist (the spec asks {_normalised(expected)})")
        elif _normalised(setting.content_string) != _normalised(expected):
            wrong.append(f"{key} is {_normalised(setting.content_string)}, the spec asks {_normalised(expected)}")
    assert not wrong, f"{host_vars['inventory_hostname']}: " + "; ".join(wrong)
