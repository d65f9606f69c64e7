"""The status report of the scripted run (tests/unit/test_project_view.py) as Markdown and HTML, hand-computed.

Half the fleet is verified at 11:00: 5 of 10 host-steps, 10 per hour, the rest projected by 11:30; EUR 150.00 of
EUR 2,000.00 spent, EUR 300.00 forecast. Both formats must say so in plain words, escape what the log holds,
render runs with nothing to show, and the HTML must stand alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from itpm.log.events import (
    ApprovalDecided,
    ApprovalRequested,
    BatchFinished,
    BatchStarted,
    Event,
    HostVerified,
    PhaseChanged,
    RiskRaised,
    RunFinished,
    RunHalted,
    RunStarted,
    StepAudited,
)
from itpm.reports.html_report import render_html, section_html
from itpm.reports.markdown_report import render_markdown, section_markdown
from itpm.reports.project_view import ProjectView, project_view
from itpm.reports.report_files import report_name, write_report
from itpm.reports.retrospective import next_steps_sections, retrospective
from itpm.reports.section import ReportSection
from itpm.reports.wording import percent
from tests.unit.test_project_view import COMMON, HOSTS, PROJECT, T0, at, batch, first_half

NEXT = ReportSection(
    "Next steps",
    paragraphs=("Book the second window with the vendor.",),
    bullets=("Resume the run: `itpm resume r1`",),
    table=({"who": "Dana", "what": "re-audit | sign off"},),
)
HOSTILE = "<script>alert(1)</script>"


def running() -> ProjectView:
    return project_view(PROJECT, first_half(), as_of=at(60))


def finished() -> ProjectView:
    events = [
        *first_half(),
        *batch("s/batch 2", HOSTS[5:], 60, 80),
        StepAudited(**COMMON, at=at(85), step="s", stage="after", checks=["test_a", "test_b"], passed=HOSTS, failed={}),
        RunFinished(**COMMON, at=at(90), status="completed"),
    ]
    return project_view(PROJECT, events, as_of=at(600))


def not_started() -> ProjectView:
    return project_view(PROJECT, [], as_of=T0)


def dry_run() -> ProjectView:
    started = first_half()[0]
    assert isinstance(started, RunStarted)
    events: list[Event] = [
        started.model_copy(update={"dry_run": True}),
        PhaseChanged(**COMMON, at=at(0), phase="planning"),
        StepAudited(**COMMON, at=at(5), step="s", stage="before", passed=HOSTS, failed={}),
        RunFinished(**COMMON, at=at(6), status="dry_run"),
    ]
    return project_view(PROJECT, events, as_of=at(10))


def bare() -> ProjectView:
    """A project file with no phases, milestones, budget or risks, its run in the middle of a batch."""
    project = PROJECT.model_copy(update={"phases": (), "milestones": (), "budget": None, "risks": ()})
    events = [*first_half()[:5], BatchStarted(**COMMON, at=at(30), step="s", batch="s/canary", hosts=["h1"])]
    return project_view(project, events, as_of=at(35))


def hostile_events() -> list[Event]:
    """A halted run whose log holds markup: a failure message, an approval comment, a risk note, a halt reason."""
    return [
        *first_half(),
        ApprovalRequested(**COMMON, at=at(61), step="s", roles=["engineer"], requester="dana"),
        ApprovalDecided(**COMMON, at=at(62), step="s", approver="<b>eve</b>", decision="approved", comment=HOSTILE),
        BatchStarted(**COMMON, at=at(63), step="s", batch="s/batch 2", hosts=HOSTS[5:]),
        HostVerified(**COMMON, at=at(70), step="s", host="h6", passed=False, failures=[f"test_a: {HOSTILE}"]),
        BatchFinished(**COMMON, at=at(70), step="s", batch="s/batch 2", verdict="halted", ok=[], failed=["h6"]),
        RiskRaised(
            **COMMON,
            at=at(70),
            risk_id="R9",
            title="banner <img src=x onerror=alert(1)>",
            likelihood="high",
            impact="high",
            owner="Dana | ops",
            materialized=True,
            note=HOSTILE,
        ),
        RunHalted(**COMMON, at=at(71), reason=f"h6 failed {HOSTILE}", next_steps="fix h6, then `itpm resume r1`"),
        RunFinished(**COMMON, at=at(71), status="halted"),
    ]


def hostile() -> ProjectView:
    return project_view(PROJECT, hostile_events(), as_of=at(75))


ALL_VIEWS = [running, finished, not_started, dry_run, bare, hostile]


def test_markdown_says_the_hand_computed_figures_of_the_running_run() -> None:
    text = render_markdown(running(), [NEXT])
    expected = [
        "# Demo rollout",
        "- **Run**: `r1`",
        "- **Requested by**: dana",
        "- **State**: running (execution phase)",
        "- **As of**: 2026-11-26 11:00 UTC",
        "5 of 10 host-steps verified (50%).",
        "- Step `s`: 5 of 10 hosts verified.",
        "Projected finish 2026-11-26 11:30 UTC, on the planned day (2026-11-26).",
        "Planned finish: 2026-11-26 (the end of the execution phase).",
        "Throughput: 10.0 host-steps verified per hour",
        "Started 2026-11-26 10:00 UTC; elapsed so far: 60 min.",
        "| execution | 2026-11-26 | since 2026-11-26 10:30 UTC |",
        "| planning | not planned | 2026-11-26 10:00 to 10:30 UTC |",
        "| Rollout done | 2026-11-26 | on track | projected 2026-11-26 11:30 UTC |",
        "EUR 150.00 spent of EUR 2,000.00 planned (7.5%).",
        # 100 of team time bought 5 host-steps; 5 more at 20 and 5 more hosts at 10: 150 + 100 + 50.
        "Forecast at completion: EUR 300.00, within the budget (EUR 1,700.00 to spare).",
        "Team time booked: engineer 60 min.",
        "| per-host costs | EUR 100.00 | EUR 50.00 | 50% |",
        "| team time | EUR 1,900.00 | EUR 100.00 | 5.3% |",
        "| total | EUR 2,000.00 | EUR 150.00 | 7.5% |",
        "Step `s`: 2 of 10 hosts failed a check before the change; not re-audited yet.",
        "| s | test_a | 2 of 10 (h1, h2) | not re-audited |",
        "| s | test_b | 1 of 10 (h2) | not re-audited |",
        "2 open risks, none materialized.",
        "| R2 | vendor late | medium x medium | Dana | open | project file |",
        "## Needs attention\n\nNothing needs attention.",
        "## Next steps\n\nBook the second window with the vendor.\n\n- Resume the run: `itpm resume r1`",
        r"| Dana | re-audit \| sign off |",
    ]
    missing = [line for line in expected if line not in text]
    assert not missing, text
    headings = re.findall(r"^## (.+)$", text, flags=re.MULTILINE)
    assert headings == [
        "Progress",
        "Schedule",
        "Milestones",
        "Budget",
        "Compliance",
        "Open risks",
        "Needs attention",
        "Next steps",
    ]
    assert "| other |" not in text  # nothing planned or spent: no row of zeros


def test_markdown_of_the_finished_run_shows_the_re_audit_and_the_milestone_reached() -> None:
    text = render_markdown(finished())
    for line in [
        "- **State**: completed",
        "10 of 10 host-steps verified (100%).",
        "Finished 2026-11-26 11:30 UTC, on the planned day (2026-11-26).",
        "Started 2026-11-26 10:00 UTC, ended 2026-11-26 11:30 UTC; took 90 min.",
        "| Rollout done | 2026-11-26 | reached | reached 2026-11-26 11:20 UTC |",
        "| s | test_a | 2 of 10 (h1, h2) | 0 of 10 |",
        "Step `s`: 2 of 10 hosts failed a check before the change; 0 after it.",
        # Team time 50 + 16.67 + 33.33 + 33.33, every host's 10: nothing left to forecast.
        "EUR 233.33 spent of EUR 2,000.00 planned (11.7%).",
        "Forecast at completion: EUR 233.33",
    ]:
        assert line in text, text


def test_html_says_the_same_figures_and_carries_both_charts() -> None:
    page = render_html(running(), [NEXT])
    for words in [
        "<h1>Demo rollout</h1>",
        "<dt>Run</dt><dd><code>r1</code></dd>",
        "5 of 10 host-steps verified (50%).",
        "Projected finish 2026-11-26 11:30 UTC, on the planned day (2026-11-26).",
        "EUR 150.00 spent of EUR 2,000.00 planned (7.5%).",
        "Forecast at completion: EUR 300.00",
        '<td class="figure">EUR 1,900.00</td>',
        "<td>2 of 10 (h1, h2)</td>",
        "<td>on track</td>",
        "<li>Resume the run: <code>itpm resume r1</code></li>",
        "<td>re-audit | sign off</td>",
        '<span style="width: 50.0%">',
    ]:
        assert words in page, words
    timeline, burnup = _svg(page, "timeline-chart"), _svg(page, "burnup-chart")
    for svg in (timeline, burnup):
        assert 'role="img"' in svg.split(">", 1)[0]
        assert 'aria-label="' in svg.split(">", 1)[0]
        assert "<title>" in svg
    assert timeline.count('class="bar batch passed"') == 2  # the canary, then batch 1
    assert timeline.count('class="bar phase ') == 2  # planning (done), execution (current)
    assert timeline.count('class="milestone on-track"') == 1
    assert 'class="now"' in timeline and "projected finish" in timeline
    # Burn-up points, one per moment: the start (0), the canary (1), batch 1 (5).
    assert burnup.count('class="point"') == 3
    assert "10 host-steps in scope" in burnup
    assert "11:00 UTC: 5 of 10 host-steps verified" in burnup


@pytest.mark.parametrize("make", ALL_VIEWS, ids=lambda make: make.__name__)
def test_every_run_renders_in_plain_words_and_the_page_stands_alone(make: Callable[[], ProjectView]) -> None:
    view = make()
    text, page = render_markdown(view, [NEXT]), render_html(view, [NEXT])
    for output in (text, page):
        assert not re.search(r"\bNone\b|Decimal\(|MilestoneState|HostStepState|<enum ", output), output
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    for outside in ("http://", "https://", "<script", "url(", "@import"):
        assert outside not in page.lower(), outside
    tags = _Tags()
    tags.feed(page)
    assert not tags.names & {"script", "link", "img", "iframe", "object", "embed", "image", "use", "a"}
    assert not tags.attributes & {"src", "href", "xlink:href", "srcset", "action", "onload", "onerror"}
    assert page.count('<svg id="timeline-chart"') == 1 and page.count('<svg id="burnup-chart"') == 1


@pytest.mark.parametrize("make", [not_started, dry_run], ids=lambda make: make.__name__)
def test_runs_without_batches_say_so_in_the_charts(make: Callable[[], ProjectView]) -> None:
    page = render_html(make())
    assert "no batches yet" in _svg(page, "timeline-chart")
    assert "no batches yet" in _svg(page, "burnup-chart")


def test_a_batch_under_way_is_drawn_running_before_anything_is_verified() -> None:
    page = render_html(bare())
    assert _svg(page, "timeline-chart").count('class="bar batch running"') == 1
    assert "no host-step verified yet" in _svg(page, "burnup-chart")
    assert "no batches yet" not in page


def test_what_the_log_holds_stays_text() -> None:
    view = hostile()
    page, text = render_html(view), render_markdown(view)
    assert "<script" not in page and "<b>eve" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Halted: h6 failed &lt;script&gt;" in page
    assert "banner &lt;img src=x onerror=alert(1)&gt;" in page
    assert "approved by &lt;b&gt;eve&lt;/b&gt;" in page
    assert "then <code>itpm resume r1</code>" in page
    assert "failed: h6" in page
    # Markdown: a backslash keeps a renderer from taking markup as HTML; a pipe does not split a cell.
    assert r"\<script>alert(1)\</script>" in text
    assert "<script" not in text.replace(r"\<script", "")
    assert r"| Dana \| ops |" in text
    assert "- **State**: halted" in text
    assert "| R9 | banner \\<img src=x onerror=alert(1)> | high x high | Dana \\| ops | materialized: " in text


def test_the_retrospective_and_next_steps_render_as_sections_of_both_formats() -> None:
    view, events = hostile(), hostile_events()
    sections = (*retrospective(view, events), *next_steps_sections(view, events))
    assert sections
    text, page = render_markdown(view, sections), render_html(view, sections)
    for section in sections:
        assert f"\n## {section.title}\n" in text
        assert f"<h2>{escape(section.title)}</h2>" in page
    for output in (text, page):
        assert not re.search(r"\bNone\b|Decimal\(", output)
    assert "<script" not in page


def test_the_empty_cases_say_what_is_missing() -> None:
    text = render_markdown(not_started())
    assert "- **Run**: none yet" in text and "- **State**: not started" in text
    assert "The run has not started: no host-step is verified yet." in text
    assert "No audit is recorded yet." in text
    assert "| Rollout done | 2026-11-26 | not measured yet | no projection yet |" in text
    text = render_markdown(bare())
    assert "The project file sets no milestones." in text
    assert "The project file sets no budget." in text
    assert "No open risks." in text
    assert "Planned finish: not set" in text
    assert "the project file plans no phases or milestones" in render_html(bare())
    text = render_markdown(dry_run())
    assert "dry run finished (audit and plan only, nothing changed)" in text
    assert "This is a dry run: it audits and plans, and changes nothing." in text
    assert "0 of 10 host-steps verified (0%)." in text


def test_sections_render_alone_for_other_pages() -> None:
    section = ReportSection("Lessons <1>", paragraphs=("# not a heading",), table=({"a": "x\ny"}, {"b": "2"}))
    assert section_markdown(section, level=3) == (
        "### Lessons \\<1>\n\n\\# not a heading\n\n| a | b |\n|---|---|\n| x y |   |\n|   | 2 |\n"
    )
    html = section_html(section, anchor="lessons")
    assert html.startswith('<section id="lessons">\n<h2>Lessons &lt;1&gt;</h2>')
    assert '<td class="figure">2</td>' in html


def test_write_report_writes_both_files_atomically_named_for_the_run(tmp_path: Path) -> None:
    view = running()
    files = write_report(view, [NEXT], tmp_path / "reports")
    assert (files.html.name, files.markdown.name) == ("demo-r1.html", "demo-r1.md")
    assert files.html.read_text() == render_html(view, [NEXT])
    assert files.markdown.read_text() == render_markdown(view, [NEXT])
    assert sorted(p.name for p in files.html.parent.iterdir()) == ["demo-r1.html", "demo-r1.md"]  # no temporaries
    assert report_name(not_started()) == "demo-not-started"


@pytest.mark.parametrize(
    ("run_id", "name"),
    [("demo-20261126T100000-3f9a1c", "demo-20261126T100000-3f9a1c"), ("../../etc/x y", "demo-etc-x-y")],
)
def test_report_names_do_not_repeat_the_project_nor_leave_the_directory(run_id: str, name: str) -> None:
    view = running()
    view.status.run_id = run_id
    assert report_name(view) == name


@pytest.mark.parametrize(
    ("value", "shown"), [(0, "0%"), (0.01, "0.1%"), (7.5, "7.5%"), (50, "50%"), (99.96, "99.9%"), (100, "100%")]
)
def test_percentages_never_round_to_done_or_to_nothing(value: float, shown: str) -> None:
    assert percent(value) == shown


class _Tags(HTMLParser):
    """Collects the element and attribute names of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self.attributes: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.add(tag)
        self.attributes.update(name for name, _ in attrs)


def _svg(page: str, chart_id: str) -> str:
    start = page.index(f'<svg id="{chart_id}"')
    return page[start : page.index("</svg>", start) + len("</svg>")]
