"""The check plugin's JSON lines in, per-host check results out; assertion messages without pytest's noise."""

from __future__ import annotations

import json

from itpm.models.results import CheckOutcome
from itpm.verification.pytest_plugin import _assertion_message
from itpm.verification.runner import parse_check_report, worker_count


def _line(check: str, host: str, outcome: str, message: str = "") -> str:
    return json.dumps({"check": check, "host": host, "outcome": outcome, "message": message, "duration_s": 0.1})


def test_report_groups_by_host_and_keeps_messages() -> None:
    lines = [
        _line("b/test_a.py::test_x", "h1", "passed"),
        _line("b/test_a.py::test_x", "h2", "failed", "login banner /etc/issue.net is missing"),
        _line("b/test_a.py::test_y", "h3", "unreachable", "h3 (10.77.0.4:22) unreachable"),
    ]
    hosts = parse_check_report(lines, ["h1", "h2", "h3", "h4"])
    assert hosts["h1"].ok and not hosts["h2"].ok and hosts["h3"].unreachable
    assert hosts["h2"].failures[0].message == "login banner /etc/issue.net is missing"
    assert hosts["h2"].failures[0].outcome is CheckOutcome.FAILED
    assert hosts["h4"].checks == ()  # a selected host with no result is still reported


def test_assertion_message_drops_the_rewritten_expression() -> None:
    exconly = "AssertionError: nothing listens on tcp port 9100\nassert False\n +  where False = ..."
    assert _assertion_message(exconly) == "nothing listens on tcp port 9100"
    assert _assertion_message("AssertionError: assert 1 == 2") == "assert 1 == 2"


def test_worker_count_follows_the_measurements() -> None:
    assert [worker_count(n, cores=2) for n in (1, 5, 12, 13, 50, 200)] == [0, 0, 0, 2, 2, 2]
    assert worker_count(50, cores=16) == 4  # more cores help, up to the cap
