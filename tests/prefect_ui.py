"""The real Prefect UI in headless Chromium, as a project manager sees a run: its page, its artifacts, screenshots.

The UI is the Prefect server's own (3.8.8), at the API address without ``/api``. Its default UI is the V2 one under
``/v2/`` (``/`` redirects there); these helpers read V2 pages, whose artifact views carry stable test ids
(``markdown-display``, ``progress-display``, ``table-display``). What works where (measured on 3.8.8):

- ``/v2/runs/flow-run/<id>``: the run's header, task runs and logs; ``?tab=Artifacts`` lists the run's
  artifacts as cards (type, key, description), each linking to ``/v2/artifacts/key/<key>``.
- ``/v2/artifacts/artifact/<artifact id>``: one artifact rendered (markdown as HTML, a table, ``Progress: 40%``),
  with a hidden raw copy and a side panel of Prefect's own fields.
- ``/v2/artifacts/key/<key>`` (and V1's ``/artifacts/key/<key>``): the versions of a key across ALL runs, without
  their content; keys are per project, so a key page mixes runs.
- V1 ``/runs/flow-run/<id>?tab=Artifacts`` opens on Logs when loaded directly (the tab is hidden until the run
  has loaded, and the page falls back to its first tab); V1 ``/artifacts/artifact/<id>`` renders the content too.

Each page is loaded until what the test waits for is there (a loaded page, the run's name, a rendered
artifact): a single-page app on a busy machine fills in its data when its API calls return, so one fixed wait is
never enough. Screenshots go to ``test-artifacts/ui/<name>.png`` in the checkout, which CI keeps.

>>> page = status_report(api, flow_run_id)  # doctest: +SKIP
>>> page.content[:60], page.screenshot.name  # doctest: +SKIP
('Network configuration of the lab Run: ... State: completed', 'status-report.png')
>>> unreadable("State: None, took 0.33333333 s")  # doctest: +SKIP
["'None' in 'State: None, took 0.3333'", "'0.33333333' in ..."]
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from itpm.prefect_server import auth_headers
from tests.browser import BrowserError, capture
from tests.png import read_png

__all__ = [
    "SCREENSHOTS",
    "RunArtifact",
    "UiPage",
    "api",
    "artifact_text",
    "assert_not_blank",
    "find_artifact",
    "flow_run_id",
    "open_artifacts_tab",
    "open_flow_run",
    "progress_artifact",
    "run_artifacts",
    "status_report",
    "ui_address",
    "unreadable",
]

SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "ui"
PAGE_TIMEOUT_S = 180.0  # how long a page may take to show its data on a machine shared by several lab runs
_WAIT_MS = 8000  # virtual time the page's scripts get per load (the clock stops while its API calls are pending)
_WIDE = (1280, 900)
_TALL = (1280, 2600)  # a status report is long: the screenshot shows all of it
_BLANK_ROWS = 40  # a blank or half-drawn page has a handful of distinct pixel rows; a page with text has hundreds
_DISPLAYS = ("markdown-display", "progress-display", "table-display")  # V2's artifact views
_SPACE_BEFORE_PUNCTUATION = re.compile(r" ([:;,.!?)])")


@dataclass(frozen=True)
class UiPage:
    """A page of the UI as loaded: its address, visible text, the part itpm wrote, links and screenshot."""

    url: str
    text: str  # every visible word of the page, Prefect's own labels included
    content: str  # the words itpm wrote: a rendered artifact, the artifact cards; the page text otherwise
    links: tuple[str, ...]  # every href on the page, in document order
    screenshot: Path


@dataclass(frozen=True)
class RunArtifact:
    """One artifact of a flow run as the API returns it: ``type`` is markdown, table, progress, ..."""

    id: str
    key: str
    type: str
    description: str
    data: Any
    created: str


def ui_address(api_url: str) -> str:
    """Return the UI's address for an API URL: ``http://127.0.0.1:4200/api`` -> ``http://127.0.0.1:4200``."""
    return api_url.rstrip("/").removesuffix("/api")


# -- the API, to know what the UI should show ---------------------------------------------------------------------


def run_artifacts(api_url: str, flow_run_id: str) -> list[RunArtifact]:
    """Return every artifact of the flow run that its Artifacts tab lists (each version of each key), oldest first.

    Left out, as the tab leaves them out: the records Prefect's server keeps of a state's result (no key, no type;
    a failed run has one holding where its exception is stored).
    """
    found: list[RunArtifact] = []
    limit = 200  # the most the API answers at a time
    while True:
        page: list[dict[str, Any]] = api(
            api_url,
            "/artifacts/filter",
            {
                # The tab's own filter; SQL's NOT IN leaves out the records without a type as well.
                "artifacts": {"flow_run_id": {"any_": [flow_run_id]}, "type": {"not_any_": ["result"]}},
                "sort": "CREATED_DESC",  # the API sorts no other way by time
                "offset": len(found),
                "limit": limit,
            },
        )
        found += [
            RunArtifact(a["id"], a["key"] or "", a["type"] or "", a["description"] or "", a["data"], a["created"])
            for a in page
        ]
        if len(page) < limit:
            return found[::-1]


def flow_run_id(api_url: str, run_id: str) -> str:
    """Return the id of the newest flow run of itpm run ``run_id`` (its flow runs carry the tag ``itpm-run:<id>``)."""
    body = {"flow_runs": {"tags": {"all_": [f"itpm-run:{run_id}"]}}, "sort": "START_TIME_DESC", "limit": 1}
    found: list[dict[str, Any]] = api(api_url, "/flow_runs/filter", body)
    if not found:
        raise AssertionError(f"no flow run in {api_url} is tagged itpm-run:{run_id}")
    return str(found[0]["id"])


def artifact_text(artifact: RunArtifact) -> str:
    """Return an artifact's words as a reader gets them: markdown as written, a table's header and cells, ``40%``.

    >>> artifact_text(RunArtifact("a", "k", "table", "", '[{"host": "h1", "state": "verified"}]', ""))
    'host | state\\nh1 | verified'
    """
    if artifact.type == "progress":
        return f"{artifact.data:g}%"
    if artifact.type == "table":
        rows = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
        if isinstance(rows, dict):  # a table given as columns: {"host": [...], "state": [...]}
            rows = [dict(zip(rows, values, strict=True)) for values in zip(*rows.values(), strict=True)]
        columns = list(dict.fromkeys(key for row in rows for key in row))
        lines = [" | ".join(columns)] + [" | ".join(str(row.get(c, "")) for c in columns) for row in rows]
        return "\n".join(lines)
    return artifact.data if isinstance(artifact.data, str) else json.dumps(artifact.data)


def _newest(api_url: str, flow_run_id: str, key: str) -> RunArtifact:
    """Return the newest version of ``key`` in the flow run (a markdown or table key gets one per update)."""
    versions = [a for a in run_artifacts(api_url, flow_run_id) if a.key == key]
    if not versions:
        raise AssertionError(f"flow run {flow_run_id} has no artifact {key!r} in the API")
    return versions[-1]


def api(api_url: str, path: str, body: dict[str, Any] | None = None, *, auth_string: str | None = None) -> Any:
    """Call the Prefect REST API at ``api_url`` (POST ``body`` as JSON, else GET); return the decoded answer.

    A server with basic auth on gets ``auth_string`` (``'admin:...'``; default ``$PREFECT_API_AUTH_STRING``) as
    Prefect's client sends it.
    """
    request = urllib.request.Request(  # noqa: S310 - the test's own local server
        api_url.rstrip("/") + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **auth_headers(auth_string)},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - the test's own local server
        return json.load(answer)


def open_flow_run(api_url: str, flow_run_id: str, *, name: str = "flow-run", timeout: float = PAGE_TIMEOUT_S) -> UiPage:
    """Open the flow run's page once it shows the run's name and state; return it, screenshot saved.

    ``content`` is the page's text: the run's header (name, state, start, duration, task runs), tabs and logs.
    """
    flow_run: dict[str, Any] = api(api_url, f"/flow_runs/{flow_run_id}")
    url = f"{ui_address(api_url)}/v2/runs/flow-run/{flow_run_id}"

    def shows_the_run(dom: _Dom) -> bool:
        return flow_run["name"] in dom.text and flow_run["state_name"] in dom.text

    page = _load(url, name, _WIDE, shows_the_run, timeout)
    return UiPage(url, page.text, page.text, page.links, page.screenshot)


def open_artifacts_tab(
    api_url: str, flow_run_id: str, *, name: str = "artifacts-tab", timeout: float = PAGE_TIMEOUT_S
) -> UiPage:
    """Open the flow run's Artifacts tab once it lists a card for every artifact key of the run; return it.

    ``content`` is the cards' text: each card's type, key, date and description.
    """
    keys = {a.key for a in run_artifacts(api_url, flow_run_id) if a.key}
    if not keys:
        raise AssertionError(f"flow run {flow_run_id} has no artifact with a key: nothing for the tab to show")
    url = f"{ui_address(api_url)}/v2/runs/flow-run/{flow_run_id}?tab=Artifacts"

    def lists_every_key(dom: _Dom) -> bool:
        return keys <= set(_card_keys(dom))

    page = _load(url, name, _WIDE, lists_every_key, timeout)
    cards = page.dom.find(lambda e: e.attrs.get("data-testid") == "flow-run-artifacts-grid")
    content = "\n".join(page.dom.text_of(card) for card in cards)
    return UiPage(url, page.text, content, page.links, page.screenshot)


def find_artifact(
    api_url: str,
    flow_run_id: str,
    pick: Callable[[str, str], bool],
    *,
    name: str,
    size: tuple[int, int] = _TALL,
    timeout: float = PAGE_TIMEOUT_S,
) -> UiPage:
    """Find an artifact of the run in its Artifacts tab, open its newest version's page, and return that page.

    ``pick(card_type, key)`` chooses the card (``card_type`` as the card shows it: ``MARKDOWN``, ``TABLE``,
    ``PROGRESS``). ``content`` is the artifact as the UI renders it: the markdown's text, the table's cells,
    ``Progress: 40%``. Screenshots: ``<name>-tab.png`` (the tab) and ``<name>.png`` (the artifact).
    """
    tab = _load(
        f"{ui_address(api_url)}/v2/runs/flow-run/{flow_run_id}?tab=Artifacts",
        f"{name}-tab",
        _WIDE,
        lambda dom: any(pick(kind, key) for key, kind in _card_keys(dom).items()),
        timeout,
    )
    picked = [key for key, kind in _card_keys(tab.dom).items() if pick(kind, key)]
    assert len(picked) == 1, f"the Artifacts tab of flow run {flow_run_id} has {picked or 'no'} such card"
    artifact = _newest(api_url, flow_run_id, picked[0])
    url = f"{ui_address(api_url)}/v2/artifacts/artifact/{artifact.id}"

    def rendered(dom: _Dom) -> bool:
        # The side panel links back to the run once the artifact is loaded; the view is filled after it.
        shown = [dom.text_of(e) for e in dom.find(lambda e: e.attrs.get("data-testid") in _DISPLAYS)]
        return any(shown) and any(flow_run_id in link for link in dom.links)

    page = _load(url, name, size, rendered, timeout)
    views = page.dom.find(lambda e: e.attrs.get("data-testid") in _DISPLAYS)
    return UiPage(url, page.text, "\n".join(page.dom.text_of(v) for v in views), page.links, page.screenshot)


def progress_artifact(
    api_url: str, flow_run_id: str, *, name: str = "progress", timeout: float = PAGE_TIMEOUT_S
) -> UiPage:
    """Return the page of the run's progress artifact (``content``: ``'Progress: 100%'``), found in the run's tab."""
    return find_artifact(
        api_url, flow_run_id, lambda kind, _: kind == "PROGRESS", name=name, size=_WIDE, timeout=timeout
    )


def status_report(
    api_url: str, flow_run_id: str, *, name: str = "status-report", timeout: float = PAGE_TIMEOUT_S
) -> UiPage:
    """Return the page of the run's markdown status report (key ``itpm-<project>-status``), its newest version."""
    return find_artifact(
        api_url,
        flow_run_id,
        lambda kind, key: kind == "MARKDOWN" and key.endswith("-status"),
        name=name,
        timeout=timeout,
    )


def assert_not_blank(path: Path) -> None:
    """Fail unless the PNG at ``path`` shows something: hundreds of distinct pixel rows, not a blank page's few."""
    image = read_png(path)
    assert image.distinct_rows >= _BLANK_ROWS, (
        f"{path} looks blank: {image.distinct_rows} distinct rows of {image.height}"
    )


# -- readability ---------------------------------------------------------------------------------------------------

# What a Python value looks like when it is printed instead of put into words.
_REPRS = re.compile(
    r"""
      \bNone\b | \bTrue\b | \bFalse\b | \bnan\b | \binf\b
    | [{\[(]\s*['"] | \{\} | \[\] | \(\)                    # dict, list, tuple reprs; empty ones
    | \b(?:Decimal|UUID|PosixPath|Path|datetime|date|time|timedelta|timezone|frozenset|set|dict|OrderedDict)\(
    | \bdatetime\.                                          # datetime.datetime(...), datetime.timezone.utc
    | <[\w.]+\ object\ at\ 0x[0-9a-f]+>  | \b0x[0-9a-f]{6,}\b
    | <[A-Z]\w*\.[A-Z_]\w*:                                 # <Verdict.PASSED: 'passed'>
    | \b[A-Z][a-z]\w*\.[A-Z][A-Z_]+\b                       # Verdict.PASSED, HostStepState.VERIFIED
    | \b\w+(?:Error|Exception)\(                            # ValueError('...')
    | Traceback\ \(most\ recent\ call\ last\)
    | \d{4}-\d\d-\d\dT\d\d:\d\d                             # an ISO timestamp as stored, not as a person writes it
    | \d\d:\d\d:\d\d\.\d+                                   # seconds with a fraction (microseconds)
    | \d\d:\d\d:\d\d[+-]\d\d:\d\d                            # str() of an aware datetime: 10:00:00+00:00
    | (?<![\w.])\d+\.\d{4,}\b                               # a float with its every digit
    | \\n | (?<!\w)b'                                       # a string's or bytes' repr
    """,
    re.VERBOSE,
)


def unreadable(text: str) -> list[str]:
    """Return each Python repr in ``text`` with some words around it (empty when a PM can read it all).

    "None" opening a sentence ("None of the risks materialized.") is English, not a repr.

    >>> unreadable("5 of 5 hosts verified (100%), EUR 1,240.50 spent. None of the risks materialized.")
    []
    >>> unreadable("owner None, Verdict.PASSED")
    ["'None' in 'owner None, Verdict.PASSED'", "'Verdict.PASSED' in 'owner None, Verdict.PASSED'"]
    """
    found = []
    for match in _REPRS.finditer(text):
        if match.group() == "None" and _opens_a_sentence(text, match.start(), match.end()):
            continue
        around = " ".join(text[max(0, match.start() - 30) : match.end() + 30].split())
        found.append(f"{match.group()!r} in {around!r}")
    return list(dict.fromkeys(found))


def _opens_a_sentence(text: str, start: int, end: int) -> bool:
    """Return whether the word at ``start:end`` begins a sentence and a lowercase word follows it."""
    before = text[:start].rstrip(" \t-*#>|_")  # Markdown's list, heading, quote, table and emphasis marks
    return (not before or before[-1] in "\n.!?:;") and re.match(r" [a-z]", text[end : end + 2]) is not None


# -- loading and reading pages -------------------------------------------------------------------------------------


@dataclass
class _Element:
    tag: str
    attrs: dict[str, str]
    children: list[_Element | str] = field(default_factory=list)


class _Dom(HTMLParser):
    """The DOM Chromium printed, as a tree of elements, with the visible text of any element."""

    _VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"})
    _UNSEEN = frozenset({"script", "style", "template", "noscript", "svg", "head", "title"})

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Element("document", {})
        self._open = [self.root]
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = _Element(tag, {name: value or "" for name, value in attrs})
        self._open[-1].children.append(element)
        if tag not in self._VOID:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self._open) - 1, 0, -1):  # close up to the matching element, as a browser does
            if self._open[depth].tag == tag:
                del self._open[depth:]
                return

    def handle_data(self, data: str) -> None:
        self._open[-1].children.append(data)

    def find(self, wanted: Callable[[_Element], bool]) -> list[_Element]:
        """Return the elements ``wanted`` picks, in document order (not those inside a picked one)."""
        return list(self._walk(self.root, wanted))

    def _walk(self, element: _Element, wanted: Callable[[_Element], bool]) -> Iterator[_Element]:
        for child in element.children:
            if isinstance(child, _Element):
                if wanted(child):
                    yield child
                else:
                    yield from self._walk(child, wanted)

    def text_of(self, element: _Element) -> str:
        """Return the words a reader sees in ``element``: no scripts, buttons, hidden or undisplayed parts."""
        words: list[str] = []
        self._collect(element, words)
        lines = (" ".join(line.split()) for line in "".join(words).split("\n"))
        # Elements are joined with a space so that words never run together; punctuation after one closes up:
        # "<strong>State</strong>: completed" reads "State: completed".
        return "\n".join(_SPACE_BEFORE_PUNCTUATION.sub(r"\1", line) for line in lines if line)

    def _collect(self, element: _Element, words: list[str]) -> None:
        for child in element.children:
            if isinstance(child, str):
                words.append(child.replace("\n", " "))  # in HTML a newline is a space; blocks make the lines
            elif not _hidden(child) and child.tag not in self._UNSEEN:
                block = child.tag in {"p", "div", "li", "tr", "h1", "h2", "h3", "h4", "section", "article"}
                self._collect(child, words)
                words.append("\n" if block else " ")  # words of two elements never run together

    @property
    def text(self) -> str:
        """Return the visible text of the whole page."""
        return self.text_of(self.root)

    @property
    def links(self) -> tuple[str, ...]:
        """Return the href of every link of the page, in document order."""
        return tuple(e.attrs["href"] for e in self.find(lambda e: e.tag == "a" and "href" in e.attrs))


def _hidden(element: _Element) -> bool:
    style = element.attrs.get("style", "").replace(" ", "")
    return "hidden" in element.attrs or "display:none" in style or element.attrs.get("aria-hidden") == "true"


def _card_keys(dom: _Dom) -> dict[str, str]:
    """Return the Artifacts tab's cards as {key: type shown on the card}, e.g. ``{'itpm-demo-status': 'MARKDOWN'}``."""
    cards = {}
    for link in dom.find(lambda e: e.tag == "a" and e.attrs.get("href", "").startswith("/v2/artifacts/key/")):
        key = link.attrs["href"].removeprefix("/v2/artifacts/key/")
        words = dom.text_of(link).split()
        cards[key] = words[0] if words else ""
    return cards


@dataclass(frozen=True)
class _Loaded:
    dom: _Dom
    text: str
    links: tuple[str, ...]
    screenshot: Path


def _load(url: str, name: str, size: tuple[int, int], ready: Callable[[_Dom], bool], timeout: float) -> _Loaded:
    """Load ``url`` until ``ready`` says its data is there; save the screenshot of that load to ``<name>.png``.

    Raises AssertionError, with the last text seen, if the page is not ready within ``timeout`` seconds.
    """
    path = SCREENSHOTS / f"{name}.png"
    deadline = time.monotonic() + timeout
    seen, wait_ms = "", _WAIT_MS
    while True:
        try:
            dom = _Dom(capture(url, path, size=size, wait_ms=wait_ms, timeout=max(60.0, wait_ms / 1000 * 4)))
        except BrowserError as failed:
            seen = str(failed)
        else:
            if ready(dom):
                assert_not_blank(path)
                return _Loaded(dom, dom.text, dom.links, path)
            seen = dom.text
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the UI did not show what was expected at {url} within {timeout:g} s; it showed:\n{seen[:3000]}"
            )
        wait_ms = min(wait_ms * 2, 60_000)  # a busy machine: give the page's scripts more time on the next load
