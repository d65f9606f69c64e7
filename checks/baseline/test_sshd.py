"""sshd runs with the hardened settings of ``baseline_sshd`` in effect (not just written to a file)."""

from __future__ import annotations

from typing import Any

from testinfra.host import Host

# sshd -T prints some values by an older name than the one configs use today.
_SYNONYMS = {"prohibit-password": "without-password"}


def _canonical(value: object) -> str:
    text = str(value).lower()
    return _SYNONYMS.get(text, text)


def test_sshd_hardening_in_effect(host_vars: dict[str, Any], sshd_effective: dict[str, str]) -> None:
    wrong = {
        key: (sshd_effective.get(key.lower()), str(expected).lower())
        for key, expected in host_vars["baseline_sshd"].items()
        if _canonical(sshd_effective.get(key.lower())) != _canonical(expected)
    }
    assert not wrong, "sshd settings differ from baseline_sshd (effective, expected): " + ", ".join(
        f"{key}={actual!r} not {expected!r}" for key, (actual, expected) in sorted(wrong.items())
    )


def test_sshd_running(host: Host) -> None:
    assert host.process.filter(comm="sshd"), "no sshd process is running"
