"""The reliability record: what every fault and hostile-input test tried, and how it came out.

A test opts in with ``@pytest.mark.reliability("fault or input class")``; each test item (each parametrized case)
is one row, with its pytest outcome. A test that tries many cases in one item (a hypothesis test) says how many
with ``record_property("cases", n)``, and any test may say what it observed with
``record_property("observed", "exit 2, no traceback")``. At the end of the session the rows go to
``$ITPM_RELIABILITY_RECORD`` (default ``test-artifacts/reliability.json``); ``scripts/reliability_report.py`` turns them
into ``docs/reliability.md``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, cast

import pytest

DEFAULT_RECORD = Path(__file__).resolve().parents[1] / "test-artifacts" / "reliability.json"
_ROW = "reliability_row"

# The rows this process saw reported: in a plain run, every test's; under xdist, the controller's (from workers).
_rows: list[dict[str, Any]] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    marker = item.get_closest_marker("reliability")
    # One row per item: the call phase, or the setup phase when setup failed (the case was not tried at all).
    if marker is not None and (report.when == "call" or (report.when == "setup" and not report.passed)):
        properties = dict(report.user_properties)
        # Carried on the report itself: under pytest-xdist the report, not the item, reaches the controller.
        report.user_properties.append(
            (
                _ROW,
                {
                    "kind": str(marker.args[0]),
                    "test": item.nodeid,
                    "outcome": report.outcome,
                    "cases": int(properties.get("cases", 1)),
                    "observed": str(properties.get("observed", "")),
                    "seconds": round(report.duration, 1),
                },
            )
        )
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _rows.extend(cast("dict[str, Any]", value) for name, value in report.user_properties if name == _ROW)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _rows or hasattr(session.config, "workerinput"):  # an xdist worker: its controller writes the record
        return
    target = Path(os.environ.get("ITPM_RELIABILITY_RECORD", DEFAULT_RECORD))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(_rows, indent=1) + "\n", encoding="utf-8")
