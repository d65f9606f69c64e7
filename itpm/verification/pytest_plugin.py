"""pytest plugin for check runs: the ``itpm://`` connection, host-grouped parallelism, a JSON-lines report.

Loaded with ``-p itpm.verification.pytest_plugin`` (checks/pytest.ini does it), so checks also run by hand::

    pytest checks/baseline --hosts 'itpm://web' --ansible-inventory inventory/lab/hosts.yml

Each check on each host becomes one line of ``--itpm-report``: check, host, outcome, message, duration.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from testinfra.backend import BACKENDS
from testinfra.host import Host

from itpm.verification.backend import HostConnectionFailed

BACKENDS["itpm"] = "itpm.verification.backend.InventoryBackend"

_HOST = "itpm_host"
_OUTCOME = "itpm_outcome"
_MESSAGE = "itpm_message"


@pytest.fixture(scope="module")
def host_vars(host: Host, pytestconfig: pytest.Config) -> dict[str, Any]:
    """Return the host's inventory variables with the run's extra vars over them (``--itpm-vars``).

    These are the expected values every check compares the host against: ``{'baseline_status_port': 9100, ...}``.
    """
    variables: dict[str, Any] = host.ansible.get_variables()
    extra = pytestconfig.getoption("--itpm-vars")
    if extra is not None:
        variables.update(json.loads(Path(extra).read_text()))
    return variables


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--itpm-report`` (one JSON line per check and host) and ``--itpm-vars`` (a JSON file of extra vars)."""
    parser.addoption("--itpm-report", default=None, help="write per-check, per-host results as JSON lines")
    parser.addoption("--itpm-vars", default=None, help="JSON file of extra vars merged over every host's vars")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep each host's checks on one xdist worker (``--dist loadgroup``): one SSH connection per host."""
    for item in items:
        host = _host_name(item)
        if host is not None:
            item.add_marker(pytest.mark.xdist_group(host))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Attach host, outcome class and a readable message to the report (user_properties cross xdist)."""
    report = yield
    host = _host_name(item)
    if host is None:
        return report
    report.user_properties.append((_HOST, host))
    if call.excinfo is not None:
        error = call.excinfo.value
        if isinstance(error, HostConnectionFailed):
            outcome, message = "unreachable", str(error)
        elif isinstance(error, AssertionError):
            outcome, message = "failed", _assertion_message(call.excinfo.exconly())
        elif call.excinfo.errisinstance(pytest.skip.Exception):
            outcome, message = "skipped", str(error)
        else:
            outcome, message = "error", call.excinfo.exconly()
        report.user_properties += [(_OUTCOME, outcome), (_MESSAGE, message)]
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Write the report of each check's call (or of a setup that did not pass) to ``--itpm-report``."""
    config = _CONFIG.get("config")
    if config is None or hasattr(config, "workerinput"):
        return  # xdist workers forward their reports to the controller, which writes them once
    path = config.getoption("--itpm-report")
    properties = dict(report.user_properties)
    if path is None or _HOST not in properties:
        return
    if report.when != "call" and report.passed:
        return
    if report.when == "teardown" and not report.failed:
        return
    outcome = properties.get(_OUTCOME) or ("passed" if report.passed else "skipped" if report.skipped else "error")
    line = {
        "check": report.nodeid.split("[")[0],
        "host": properties[_HOST],
        "outcome": outcome,
        "message": properties.get(_MESSAGE, "") if outcome != "passed" else "",
        "duration_s": round(report.duration, 4),
    }
    with Path(path).open("a") as handle:
        handle.write(json.dumps(line) + "\n")


_CONFIG: dict[str, pytest.Config] = {}


def pytest_configure(config: pytest.Config) -> None:
    """Remember the config so that logreport (which gets no config) can find the report path."""
    _CONFIG["config"] = config


def _host_name(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    host = callspec.params.get("_testinfra_host")
    backend = getattr(host, "backend", None)
    name = getattr(backend, "get_pytest_id", None)
    return str(name()) if name is not None else None


def _assertion_message(exconly: str) -> str:
    """Return the check's own message, without pytest's expression rewrite below it."""
    text = exconly.removeprefix("AssertionError: ").removeprefix("AssertionError")
    own = text.split("\nassert ")[0].strip()
    return own or text.strip()
