"""The status report in a real browser: headless Chromium draws the page and both charts (see tests/browser.py).

The picture is kept as a test artifact (test-artifacts/status-report.png, beside the report it shows) for a person
to look at; the test checks that it is the window's size and not blank, and that the DOM Chromium built holds
both charts with their bars and points.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from itpm.reports.project_view import project_view
from itpm.reports.report_files import write_report
from tests import browser
from tests.browser import BrowserError, dump_dom, screenshot
from tests.png import read_png
from tests.unit.test_project_view import PROJECT, at, first_half
from tests.unit.test_reports import NEXT

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
SIZE = (1280, 2600)  # tall enough for the whole report of the scripted run


@pytest.fixture(scope="module")
def page() -> Path:
    view = project_view(PROJECT, first_half(), as_of=at(60))
    return write_report(view, [NEXT], ARTIFACTS / "status-report").html


def test_the_page_draws_as_a_whole_picture_not_a_blank_one(page: Path, tmp_path: Path) -> None:
    shot = read_png(screenshot(page.as_uri(), ARTIFACTS / "status-report.png", size=SIZE))
    assert (shot.width, shot.height) == SIZE
    # A page of one colour repeats one encoded row (1 to 3 distinct rows); text and charts make hundreds
    # (about 1,100 for this report). Measured against a blank page drawn the same way, so the measure is known good.
    empty = tmp_path / "blank.html"
    empty.write_text("<!DOCTYPE html><title>blank</title>")
    blank = read_png(screenshot(empty.as_uri(), tmp_path / "blank.png", size=SIZE))
    assert (blank.width, blank.height) == SIZE
    assert blank.distinct_rows <= 5
    assert shot.distinct_rows >= 300, f"only {shot.distinct_rows} distinct rows of {shot.height}: a blank page?"


def test_the_rendered_dom_holds_both_charts_with_their_bars_and_points(page: Path) -> None:
    charts = _Charts()
    charts.feed(dump_dom(page.as_uri(), size=SIZE))
    timeline, burnup = charts.marks["timeline-chart"], charts.marks["burnup-chart"]
    assert charts.labelled == {"timeline-chart", "burnup-chart"}  # role="img", aria-label and a <title> each
    assert timeline.count(("rect", "bar batch passed")) == 2  # the canary, then batch 1
    assert timeline.count(("rect", "bar phase done")) == 1  # planning
    assert timeline.count(("rect", "bar phase current")) == 1  # execution
    assert timeline.count(("rect", "bar plan")) == 1  # the planned execution phase
    assert timeline.count(("polygon", "milestone on-track")) == 1
    assert ("line", "now") in timeline
    assert burnup.count(("circle", "point")) == 3  # 10:00 none, 10:40 one, 11:00 five
    assert burnup.count(("path", "burnup")) == 1
    assert ("line", "scope") in burnup


def test_a_hung_browser_is_killed_with_all_its_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profiles: list[str] = []
    make_profile = tempfile.TemporaryDirectory

    def recorded(*args: Any, **kwargs: Any) -> tempfile.TemporaryDirectory[str]:
        profile = make_profile(*args, **kwargs)
        profiles.append(profile.name)
        return profile

    monkeypatch.setattr(tempfile, "TemporaryDirectory", recorded)  # the module tests/browser.py uses
    spin = tmp_path / "spin.html"
    spin.write_text("<!DOCTYPE html><p>spin</p><script>while (true) {}</script>")
    with pytest.raises(BrowserError, match="did not finish"):
        dump_dom(spin.as_uri(), timeout=2)
    (profile,) = profiles
    # The browser, its zygotes, GPU process and renderers all name their profile; SIGKILL ends them at once.
    deadline = time.monotonic() + 5
    while _live_processes_of(profile) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _live_processes_of(profile)


def test_a_missing_chromium_fails_the_test_saying_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _: None)
    with pytest.raises(pytest.fail.Exception, match=r"`make setup` installs it"):
        browser.chromium()


def _live_processes_of(profile: str) -> list[int]:
    """Return the processes, zombies aside, started with ``--user-data-dir=<profile>``."""
    flag = f"--user-data-dir={profile}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue  # it exited while we looked
        if state != "Z" and flag in argv:
            found.append(int(entry.name))
    return found


class _Charts(HTMLParser):
    """Collects each chart's marks as (element, class) pairs, and which charts are labelled for a screen reader."""

    def __init__(self) -> None:
        super().__init__()
        self.marks: dict[str, list[tuple[str, str]]] = {}
        self.labelled: set[str] = set()
        self._chart = ""
        self._accessible = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "svg":
            self._chart = attributes.get("id") or ""
            self.marks[self._chart] = []
            self._accessible = attributes.get("role") == "img" and bool(attributes.get("aria-label"))
        elif self._chart:
            self.marks[self._chart].append((tag, attributes.get("class") or ""))
            if tag == "title" and self._accessible:
                self.labelled.add(self._chart)

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._chart = ""
