"""Hostile and broken input: fuzzed project files, standards and inventories; shell and path injection.

Issue 6: every invalid file ends in exit code 2 with a message that names the file and says the fix, never a
traceback; host names, variables and paths that try shell or path injection are refused or passed as data.

The fuzzed documents are the shipped ones (projects/*.yaml, standards/lab-baseline.yaml, an inventory shaped like
the lab's), each mutated by hypothesis in one way known to make it invalid: a dropped required key, a wrong type
or value, an unknown key, a broken reference, or damage to the YAML itself (control characters, bytes that are not
UTF-8, duplicate keys, Python tags, alias bombs, deep nesting, ...). Each case must be refused *for its reason*:
its family names a fragment the message must hold, so a bomb refused only because of an unknown key would fail.
Valid controls prove the harness tells good files from bad. The CLI runs in this process (``itpm.cli.main``).
"""

from __future__ import annotations

import copy
import io
import json
import math
import re
import subprocess
import sys
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from rich.console import Console

from itpm import cli
from itpm.cli import consoles
from itpm.errors import InventoryError
from itpm.execution.extra_vars import render_extra_vars, write_extra_vars
from itpm.inventory import select_hosts
from itpm.models.project import Budget, Person, Project, Risk, Scope, Step
from itpm.models.standard import Control, Remediation, Standard
from itpm.models.strategy import RolloutStrategy

REPO = Path(__file__).resolve().parents[2]
# What an executed payload would create; no test may ever find it.
PWNED = Path("/tmp/itpm-hostile-input-pwned")

# Shell and path injection as people and scripts try it.
PAYLOADS = (
    "; rm -rf /",
    f"$(touch {PWNED})",
    f"`touch {PWNED}`",
    f"x; touch {PWNED}",
    f"x && touch {PWNED} #",
    "line\nbreak",
    "../../etc",
    "../../etc/passwd",
    "| cat /etc/shadow",
    "web:!h1",
    "h1,h2",
    "-oProxyCommand=sh",
    "\x1b[2J\x1b[31mred",
    "[/] [bold]",
    f"{{{{ lookup('pipe', 'touch {PWNED}') }}}}",
)

# What a traceback or a leaked Python object looks like in output meant for people.
NOISE = (
    "Traceback",
    "PosixPath(",
    " object at 0x",
    "<class ",
    "input_value=",
    "errors.pydantic.dev",
    "_AnsibleTagged",
    "datetime.",
    "Error(",
)
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

FUZZ = settings(
    deadline=None,
    derandomize=True,  # the same examples in every CI run
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


# -- running the CLI in this process -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CliOutcome:
    """What ``itpm`` did: its exit code (None when an exception escaped ``main``) and everything it printed."""

    code: int | None
    output: str


def run_cli(*args: str) -> CliOutcome:
    """Run ``itpm ARGS`` through ``itpm.cli.main`` here, with its consoles captured unwrapped."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=10_000, color_system=None, soft_wrap=True)
    code: int | None = None
    with (
        mock.patch.object(consoles, "out", console),
        mock.patch.object(consoles, "err", console),
        mock.patch.object(sys, "argv", ["itpm", *args]),
        mock.patch.object(sys, "excepthook", sys.excepthook),  # typer installs its own on every call
    ):
        try:
            cli.main()
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else -1
        except Exception:
            return CliOutcome(None, buffer.getvalue() + traceback.format_exc())
    return CliOutcome(code, buffer.getvalue())


def problems_with_refusal(outcome: CliOutcome, file_name: str, fragment: str) -> list[str]:
    """Return what is wrong with ``outcome`` as the refusal of file ``file_name`` for reason ``fragment``."""
    text = outcome.output
    found = []
    if outcome.code != 2:
        found.append(f"exit code {outcome.code}, not 2")
    if file_name not in text:
        found.append(f"the message does not name {file_name}")
    if fragment not in text:
        found.append(f"the message does not say {fragment!r}")
    if "fix:" not in text:
        found.append("the message says no fix")
    found += [f"output holds {noise!r}" for noise in NOISE if noise in text]
    if CONTROL_CHARACTERS.search(text):
        found.append("output holds raw control characters")
    if PWNED.exists():
        found.append(f"{PWNED} exists: a payload ran")
    return found


def assert_refused(outcome: CliOutcome, file_name: str, fragment: str, case: Case | None = None) -> None:
    problems = problems_with_refusal(outcome, file_name, fragment)
    where = f" ({case.family})" if case else ""
    assert not problems, f"{'; '.join(problems)}{where}:\n{outcome.output}"


# -- a repository to validate in ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a repository root: the real playbooks and checks, a copy of the standard, room for fuzzed files."""
    root = tmp_path_factory.mktemp("repo")
    for name in ("playbooks", "checks"):
        (root / name).symlink_to(REPO / name)
    for name in ("projects", "standards", "inventory"):
        (root / name).mkdir()
    (root / "standards" / "lab-baseline.yaml").write_text((REPO / "standards" / "lab-baseline.yaml").read_text())
    return root


@pytest.fixture(autouse=True)
def no_payload_ran() -> Iterator[None]:
    PWNED.unlink(missing_ok=True)
    yield
    assert not PWNED.exists(), f"{PWNED} exists: an injected command ran"


def shipped_project(name: str) -> dict[str, Any]:
    """Return a shipped project file as data, its inventory pointed at a file that does not exist.

    ``itpm validate`` then checks the file alone (no ansible-inventory run), which keeps each example fast.
    """
    document: dict[str, Any] = yaml.safe_load((REPO / "projects" / name).read_text())
    document["scope"]["inventory"] = "inventory/not-generated-yet.yml"
    return document


PROJECTS = {path.name: shipped_project(path.name) for path in sorted((REPO / "projects").glob("*.yaml"))}
STANDARD: dict[str, Any] = yaml.safe_load((REPO / "standards" / "lab-baseline.yaml").read_text())
INVENTORY: dict[str, Any] = {
    "all": {
        "vars": {"ansible_user": "root", "ansible_python_interpreter": "/usr/bin/python3"},
        "children": {
            "web": {
                "hosts": {
                    "h1": {"ansible_host": "10.77.0.2"},
                    "h2": {"ansible_host": "10.77.0.3"},
                    "h4": {"ansible_host": "10.77.0.5"},
                }
            },
            "db": {"hosts": {"h3": {"ansible_host": "10.77.0.4"}}},
            "spare": {"hosts": {"h5": {"ansible_host": "10.77.0.6", "ansible_port": 22}}},
        },
    }
}


def dump(document: object) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=10_000)


# -- what makes a document invalid -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One invalid document: which family of mutation made it, what its refusal must say, and its bytes."""

    family: str
    fragment: str
    content: bytes

    def __repr__(self) -> str:  # hypothesis prints the failing case: keep it readable
        return f"Case({self.family!r}, {self.fragment!r}, {self.content[:400]!r})"


Path_ = tuple[str | int, ...]
Draw = st.DrawFn

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
CONTROL_ID = re.compile(r"[A-Z]{2,6}-[0-9]{2}")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
HOST_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}")
# A YAML inventory may write ranges and ports in a host's key (`web[01:10]`, `h1:2222`): Ansible expands them.
HOST_ENTRY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:\[\]-]{0,252}")

FORBIDDEN_CHARACTERS = [chr(c) for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)] + [
    "\x7f",
    "\x80",
    "\x9b",
    "\ufffe",
    "\uffff",
]
PYTHON_TAGS = (
    f'!!python/object/apply:os.system ["touch {PWNED}"]',
    f'!!python/object/new:os.system ["touch {PWNED}"]',
    "!!python/name:os.system ''",
    "!!python/module:os ''",
    f'!<tag:yaml.org,2002:python/object/apply:subprocess.check_call> [["touch", "{PWNED}"]]',
)
UNCLOSED = ("zz_open: [1, 2\n", 'zz_open: "text\n', "zz_open: {a: 1\n", "zz_open: 'text\n")

# A few odd texts, any text, and the injection payloads.
odd_text = st.one_of(st.sampled_from(PAYLOADS), st.text(max_size=40))
not_text = st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(), st.lists(st.integers(), max_size=2))


def not_matching(pattern: re.Pattern[str]) -> st.SearchStrategy[Any]:
    """Values that are not text matching ``pattern`` in full: other text, payloads, other types, null."""
    return st.one_of(odd_text.filter(lambda t: not pattern.fullmatch(t)), not_text, st.none())


def text_not_in(values: set[str]) -> st.SearchStrategy[Any]:
    return st.one_of(odd_text.filter(lambda t: t not in values), not_text)


def get(document: Any, path: Path_) -> Any:
    for part in path:
        document = document[part]
    return document


def present(document: Any, path: Path_) -> bool:
    try:
        get(document, path)
    except (KeyError, IndexError, TypeError):
        return False
    return True


def location(path: Path_) -> str:
    """Return how itpm's messages name a field: ``steps[0].strategy.canary``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@st.composite
def broken_yaml(draw: Draw, document: dict[str, Any]) -> Case:  # noqa: PLR0911 - one return per family, side by side
    """Damage a valid document's YAML: every family here is refused before its content is validated."""
    text = dump(document)
    family = draw(
        st.sampled_from(
            [
                "not a mapping",
                "forbidden character",
                "not UTF-8",
                "binary",
                "duplicate key",
                "python tag",
                "alias bomb",
                "self alias",
                "deep nesting",
                "unclosed",
                "two documents",
            ]
        )
    )
    if family == "not a mapping":
        root = draw(
            st.sampled_from(["- a\n- b\n", "just text\n", "42\n", "true\n", "[]\n", "null\n", "", "~\n", dump([1])])
        )
        fragment = "empty" if yaml.safe_load(root) is None else "mapping"
        return Case(family, fragment, root.encode())
    if family == "forbidden character":
        at = draw(st.integers(0, len(text)))
        character = draw(st.sampled_from(FORBIDDEN_CHARACTERS))
        return Case(family, "a character YAML forbids", (text[:at] + character + text[at:]).encode())
    if family == "not UTF-8":
        raw = text.encode()
        at = draw(st.integers(0, len(raw)))
        bad = draw(st.sampled_from([b"\xff", b"\xfe", b"\xc0\xaf", b"\xf8\x88\x80\x80\x80"]))
        return Case(family, "not UTF-8", raw[:at] + bad + raw[at:])
    if family == "binary":
        noise = draw(st.binary(min_size=1, max_size=200)) + b"\xff\x00"
        return Case(family, "not UTF-8", noise)
    if family == "duplicate key":
        key = draw(st.sampled_from(sorted(document)))
        return Case(family, "appears twice", (text + f"{key}: {json.dumps('again')}\n").encode())
    if family == "python tag":
        tag = draw(st.sampled_from(PYTHON_TAGS))
        return Case(family, "constructor for the tag", (text + f"zz_tagged: {tag}\n").encode())
    if family == "alias bomb":
        width = draw(st.integers(9, 12))
        levels = draw(st.integers(6, 12))
        lines = [f"  l0: &l0 [{', '.join(['lol'] * width)}]"]
        lines += [f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels)]
        return Case(family, "billion laughs", (text + "zz_bomb:\n" + "\n".join(lines) + "\n").encode())
    if family == "self alias":
        loop = draw(st.sampled_from(["&a [*a]", "&a {k: *a}", "&a [1, [2, *a]]"]))
        return Case(family, "expand forever", (text + f"zz_loop: {loop}\n").encode())
    if family == "deep nesting":
        depth = draw(st.integers(65, 3000))
        nested = draw(
            st.sampled_from(
                ["[" * depth + "]" * depth, "{a: " * depth + "1" + "}" * depth, "\n  " + "- " * depth + "x"]
            )
        )
        return Case(family, "levels deep", (text + f"zz_deep: {nested}\n").encode())
    if family == "unclosed":
        return Case(family, "not valid YAML", (text + draw(st.sampled_from(UNCLOSED))).encode())
    return Case(family, "not valid YAML", (text + "---\nname: another\n").encode())


# Project files: the required keys, and the fields with values each invalid for a known reason.
PROJECT_REQUIRED: list[Path_] = [
    *[(key,) for key in ("name", "title", "kind", "objectives", "scope", "steps")],
    ("scope", "inventory"),
    *[("steps", 0, key) for key in ("name", "playbook", "checks")],
    *[("team", 0, key) for key in ("name", "role")],
    *[("risks", 0, key) for key in ("id", "title", "likelihood", "impact", "mitigation", "owner")],
    *[("phases", 0, key) for key in ("name", "start", "end")],
    *[("milestones", 0, key) for key in ("name", "due")],
    *[("budget", key) for key in ("currency", "total")],
    *[("stakeholders", 0, key) for key in ("name", "role")],
]
STEP: Path_ = ("steps", 0)
STRATEGY: Path_ = (*STEP, "strategy")
KINDS = {"hardware_install", "network_config", "disaster_recovery", "compliance"}
BAD_COUNTS = st.one_of(
    st.integers(max_value=0), st.booleans(), st.floats(), odd_text.filter(lambda t: "%" not in t), st.just("0%")
)
BAD_PERCENT = st.one_of(
    st.floats(max_value=-0.001), st.floats(min_value=100.001), st.just(math.nan), st.just(math.inf), st.just("abc")
)
BAD_PAUSE = st.one_of(
    st.floats(max_value=-0.001),
    st.floats(min_value=86_400.001),
    st.sampled_from([math.nan, math.inf, "abc", 10**400]),
)
MISSING_PATH = st.one_of(
    st.sampled_from(["../../etc/passwd", "../../../../etc", "playbooks/../../x.yml"]),
    st.text(alphabet="abcxyz-", min_size=1, max_size=12).map(lambda t: f"playbooks/absent-{t}.yml"),
)
BAD_VARIABLE_NAMES = st.one_of(
    odd_text.filter(lambda t: not VARIABLE.fullmatch(t)),
    st.sampled_from(["ansible_ssh_common_args", "ansible_python_interpreter", "itpm_run_id", "item", "hostvars"]),
    st.integers(),
)
BAD_CHANNELS = st.sampled_from(
    [
        "file:../../x",
        "file:../",
        "file:a/../../b",
        "file:",
        "sms:+4912345",
        "email:not-an-address",
        "email:a@b\n",
        "email:a@b; rm -rf /",
        "webhook:ftp://x",
        "webhook:secret:bad name",
    ]
)
PROJECT_VALUES: list[tuple[Path_, st.SearchStrategy[Any]]] = [
    (("name",), not_matching(SLUG)),
    (("environment",), not_matching(SLUG)),
    (("title",), st.one_of(not_text, st.none())),
    (("kind",), text_not_in(KINDS)),
    (("objectives",), st.one_of(st.just([]), odd_text, st.integers())),
    (("steps",), st.one_of(st.just([]), odd_text, st.integers(), st.just({"name": "x"}))),
    (("scope", "inventory"), st.sampled_from(["../../etc/hosts", "../outside.yml", "a/../../../b.yml"])),
    ((*STEP, "name"), not_matching(SLUG)),
    ((*STEP, "playbook"), st.one_of(MISSING_PATH, not_text)),
    ((*STEP, "checks"), st.one_of(st.just([]), MISSING_PATH.map(lambda p: [p]))),
    ((*STEP, "rollback"), MISSING_PATH),
    ((*STRATEGY, "canary"), BAD_COUNTS),
    ((*STRATEGY, "batch_size"), st.one_of(BAD_COUNTS, st.none())),
    ((*STRATEGY, "max_fail_percent"), BAD_PERCENT),
    ((*STRATEGY, "pause_seconds"), BAD_PAUSE),
    ((*STRATEGY, "approval"), st.sampled_from([{"roles": []}, {"roles": "x"}, {"roles": ["r"], "timeout_hours": 0}])),
    ((*STRATEGY, "change_window"), st.sampled_from([{"start": "25:00", "end": "02:00"}, {"start": "22:00"}])),
    (
        (*STRATEGY, "change_window"),
        st.sampled_from(PAYLOADS).map(lambda z: {"start": "22:00", "end": "02:00", "timezone": z}),
    ),
    (("vars",), BAD_VARIABLE_NAMES.map(lambda name: {name: 1})),
    (("vars",), st.sampled_from([math.nan, math.inf, -math.inf]).map(lambda v: {"spec": {"x": v}})),
    ((*STEP, "vars"), BAD_VARIABLE_NAMES.map(lambda name: {name: "v"})),
    (
        ("phases",),
        st.sampled_from(
            [
                [{"name": "execution", "start": "2026-02-30", "end": "2026-03-01"}],
                [{"name": "execution", "start": "2026-03-02", "end": "2026-03-01"}],
                [{"name": "demolition", "start": "2026-03-01", "end": "2026-03-01"}],
            ]
        ),
    ),
    (
        ("budget",),
        st.one_of(
            not_matching(re.compile("[A-Z]{3}")).map(lambda c: {"currency": c, "total": 1}),
            st.sampled_from([-1, "lots", math.nan, math.inf]).map(lambda t: {"currency": "EUR", "total": t}),
        ),
    ),
    (("stakeholders",), BAD_CHANNELS.map(lambda c: [{"name": "Casey", "role": "cio", "channel": c}])),
    (("compliance",), MISSING_PATH.map(lambda p: {"standard": p})),
]
# Each mapping a project file has, with the model whose fields it holds (any other key is unknown).
PROJECT_MAPPINGS: list[tuple[Path_, type[BaseModel]]] = [
    ((), Project),
    (("scope",), Scope),
    (STEP, Step),
    (STRATEGY, RolloutStrategy),
    (("budget",), Budget),
    (("team", 0), Person),
    (("risks", 0), Risk),
]


def _first_field(path: Path_) -> str:
    """Return the part of ``location(path)`` every message about the field holds (lists may be reported whole)."""
    return location(path)


@st.composite
def invalid_projects(draw: Draw) -> Case:
    """Return an invalid project file made from a shipped one."""
    document = copy.deepcopy(PROJECTS[draw(st.sampled_from(sorted(PROJECTS)))])
    family = draw(
        st.sampled_from(
            [
                "broken yaml",
                "broken yaml",
                "missing key",
                "bad value",
                "unknown key",
                "key not text",
                "broken reference",
            ]
        )
    )
    if family == "broken yaml":
        return draw(broken_yaml(document))
    if family == "missing key":
        path = draw(st.sampled_from([p for p in PROJECT_REQUIRED if present(document, p)]))
        del get(document, path[:-1])[path[-1]]
        return Case(f"missing {location(path)}", f"{location(path)}: Field required", dump(document).encode())
    if family == "bad value":
        path, values = draw(st.sampled_from([(p, v) for p, v in PROJECT_VALUES if present(document, p[:-1])]))
        get(document, path[:-1])[path[-1]] = draw(values)
        return Case(f"bad {location(path)}", _first_field(path), dump(document).encode())
    if family == "unknown key":
        path, model = draw(st.sampled_from([(p, m) for p, m in PROJECT_MAPPINGS if present(document, p)]))
        mapping = get(document, path)
        key = draw(unknown_keys(model))
        mapping[key] = draw(st.one_of(st.none(), st.integers(), odd_text))
        return Case(f"unknown key in {location(path) or 'the file'}", "Extra inputs", dump(document).encode())
    if family == "key not text":
        path, _ = draw(st.sampled_from([(p, m) for p, m in PROJECT_MAPPINGS if present(document, p)]))
        get(document, path)[draw(KEYS_NOT_TEXT)] = "x"
        return Case("key not text", "is not text", dump(document).encode())
    return draw(broken_reference(document))


# Keys YAML reads as something else than text: `2026-01-01:`, `on:`, `null:`, `3:`, `1.5:`.
KEYS_NOT_TEXT = st.one_of(st.dates(), st.booleans(), st.none(), st.integers(), st.floats(allow_nan=False))


def unknown_keys(model: type[BaseModel]) -> st.SearchStrategy[str]:
    """Keys that are not fields of ``model`` (nor YAML's merge key)."""
    return st.text(min_size=1, max_size=20).filter(lambda key: key not in model.model_fields and key != "<<")


@st.composite
def broken_reference(draw: Draw, document: dict[str, Any]) -> Case:
    """Break what one part of a project refers to: a step, a role, another step's name."""
    roles = {person["role"] for person in document.get("team", [])}
    step = document["steps"][0]
    step_names = {s["name"] for s in document["steps"]}
    broken = draw(st.sampled_from(["duplicate step", "approval role", "milestone step", "risk step", "rate role"]))
    if broken == "duplicate step":
        document["steps"].append(copy.deepcopy(step))
        fragment = "step names must be unique"
    elif broken == "approval role":
        role = draw(st.text(min_size=1, max_size=12).filter(lambda r: r not in roles))
        step.setdefault("strategy", {})["approval"] = {"roles": [role]}
        fragment = "no team member has it"
    elif broken == "milestone step":
        name = draw(st.text(alphabet="abcdefg-", min_size=3, max_size=10).filter(lambda n: n not in step_names))
        document["milestones"] = [{"name": "m", "due": "2026-12-01", "step": name}]
        fragment = "names unknown step"
    elif broken == "risk step":
        name = draw(st.text(alphabet="abcdefg-", min_size=3, max_size=10).filter(lambda n: n not in step_names))
        document["risks"] = [
            {"id": "R9", "title": "t", "likelihood": "low", "impact": "low", "mitigation": "m", "owner": "o"}
            | {"step": name}
        ]
        fragment = "names unknown step"
    else:
        role = draw(st.text(min_size=1, max_size=12).filter(lambda r: r not in roles))
        document["budget"] = {"currency": "EUR", "total": 100, "rates": {role: 10}}
        fragment = "which no team member has"
    return Case(f"broken reference: {broken}", fragment, dump(document).encode())


# Standards: required keys and invalid values, through a compliance project that audits against the file.
STANDARD_REQUIRED: list[Path_] = [
    *[(key,) for key in ("id", "title", "version", "checks", "controls")],
    *[("controls", 0, key) for key in ("id", "title", "severity", "rationale", "checks", "remediation")],
    ("controls", 0, "remediation", "role"),
]
FIRST_CONTROL: Path_ = ("controls", 0)
STANDARD_VALUES: list[tuple[Path_, st.SearchStrategy[Any]]] = [
    (("id",), not_matching(SLUG)),
    (("title",), st.one_of(not_text, st.none())),
    (("checks",), st.one_of(MISSING_PATH, not_text)),
    (("controls",), st.one_of(st.just([]), odd_text, st.integers())),
    ((*FIRST_CONTROL, "id"), not_matching(CONTROL_ID)),
    ((*FIRST_CONTROL, "title"), st.one_of(st.just(""), not_text)),
    ((*FIRST_CONTROL, "rationale"), st.one_of(st.just(""), not_text)),
    ((*FIRST_CONTROL, "severity"), text_not_in({"critical", "high", "medium", "low"})),
    ((*FIRST_CONTROL, "checks"), st.one_of(st.just([]), not_matching(IDENTIFIER).map(lambda n: [n]))),
    ((*FIRST_CONTROL, "remediation", "role"), not_matching(IDENTIFIER)),
    ((*FIRST_CONTROL, "remediation", "tasks"), not_matching(IDENTIFIER)),
]
STANDARD_MAPPINGS: list[tuple[Path_, type[BaseModel]]] = [
    ((), Standard),
    (FIRST_CONTROL, Control),
    ((*FIRST_CONTROL, "remediation"), Remediation),
]


@st.composite
def invalid_standards(draw: Draw) -> Case:
    """Return an invalid standard file made from standards/lab-baseline.yaml."""
    document = copy.deepcopy(STANDARD)
    family = draw(
        st.sampled_from(
            ["broken yaml"] * 2 + ["missing key", "bad value", "unknown key", "key not text", "duplicate control"]
        )
    )
    if family == "broken yaml":
        return draw(broken_yaml(document))
    if family == "missing key":
        path = draw(st.sampled_from(STANDARD_REQUIRED))
        del get(document, path[:-1])[path[-1]]
        return Case(f"missing {location(path)}", f"{location(path)}: Field required", dump(document).encode())
    if family == "bad value":
        path, values = draw(st.sampled_from(STANDARD_VALUES))
        get(document, path[:-1])[path[-1]] = draw(values)
        return Case(f"bad {location(path)}", location(path), dump(document).encode())
    if family == "unknown key":
        path, model = draw(st.sampled_from(STANDARD_MAPPINGS))
        mapping = get(document, path)
        key = draw(unknown_keys(model))
        mapping[key] = draw(st.one_of(st.none(), st.integers(), odd_text))
        return Case("unknown key", "Extra inputs", dump(document).encode())
    if family == "key not text":
        path, _ = draw(st.sampled_from(STANDARD_MAPPINGS))
        get(document, path)[draw(KEYS_NOT_TEXT)] = "x"
        return Case("key not text", "is not text", dump(document).encode())
    document["controls"].append(copy.deepcopy(document["controls"][draw(st.integers(0, 27))]))
    return Case("duplicate control", "control ids must be unique", dump(document).encode())


# Inventories: the shape Ansible reads, names that would be read back as patterns, connection settings.
HOSTS_OF_WEB: Path_ = ("all", "children", "web", "hosts")


@st.composite
def invalid_inventories(draw: Draw) -> Case:
    """Return an invalid YAML inventory made from one shaped like the lab's."""
    document = copy.deepcopy(INVENTORY)
    family = draw(
        st.sampled_from(["broken yaml", "broken yaml", "shape", "host name", "group name", "connection", "no hosts"])
    )
    if family == "broken yaml":
        return draw(broken_yaml(document))
    if family == "shape":
        path, value, fragment = draw(
            st.sampled_from(
                [
                    (HOSTS_OF_WEB, ["h1", "h2"], "is a list, not a mapping"),
                    (("all", "children", "db"), 5, "group 'db'"),
                    (("all", "children", "db", "host"), {"h3": None}, "has key 'host'"),
                    (("all", "vars"), ["x"], "is a list, not a mapping"),
                    ((*HOSTS_OF_WEB, "h1"), ["10.77.0.2"], "where its vars go"),
                    ((*HOSTS_OF_WEB, 7), {}, "is not text"),
                    (("all", "children", "web", "vars"), {1: "x"}, "is not text"),
                ]
            )
        )
        get(document, path[:-1])[path[-1]] = value
        return Case(f"shape: {location(path)}", fragment, dump(document).encode())
    if family == "host name":
        name = draw(odd_text.filter(lambda n: not HOST_ENTRY.fullmatch(n)))
        get(document, HOSTS_OF_WEB)[name] = {"ansible_host": "10.77.0.9"}
        return Case("host name", "host", dump(document).encode())
    if family == "group name":
        name = draw(odd_text.filter(lambda n: not HOST_NAME.fullmatch(n)))
        document["all"]["children"][name] = {"hosts": {"h9": None}}
        return Case("group name", "group", dump(document).encode())
    if family == "connection":
        variable, value = draw(
            st.sampled_from(
                [("ansible_host", p) for p in PAYLOADS]
                + [("ansible_host", ["10.0.0.1"]), ("ansible_port", "ssh"), ("ansible_port", 0)]
                + [("ansible_port", 70000), ("ansible_port", True), ("ansible_port", "22; rm -rf /")]
                + [("ansible_user", "-oProxyCommand=sh"), ("ansible_user", ["root"])]
                + [("ansible_ssh_private_key_file", ["k"]), ("itpm_known_hosts_file", {"a": 1})]
            )
        )
        get(document, HOSTS_OF_WEB)["h1"][variable] = value
        return Case(f"connection: {variable}", variable, dump(document).encode())
    emptied = draw(st.sampled_from([{"all": None}, {"all": {"children": {"web": None}}}, {"all": {"vars": {"a": 1}}}]))
    return Case("no hosts", "defines no hosts", dump(emptied).encode())


# -- the fuzz tests ------------------------------------------------------------------------------------------------


def fuzz(
    cases: st.SearchStrategy[Case], examples: int, write: Callable[[Case], object], check: Callable[[Case], None]
) -> Counter[str]:
    """Run ``check`` on ``examples`` cases (each written first); return how many of each family ran."""
    tried: Counter[str] = Counter()

    @settings(FUZZ, max_examples=examples)
    @given(case=cases)
    def each(case: Case) -> None:
        tried[kind_of(case.family)] += 1
        write(case)
        check(case)

    each()
    return tried


def kind_of(family: str) -> str:
    """Return the kind of breakage a family belongs to: ``'missing key'`` for ``'missing steps[0].playbook'``."""
    kinds = {"missing ": "missing key", "bad ": "wrong value", "unknown key": "unknown key", "shape": "shape"}
    kinds |= {"broken reference": "broken reference", "connection": "connection settings"}
    return next((kind for prefix, kind in kinds.items() if family.startswith(prefix)), family)


def observed(tried: Counter[str]) -> str:
    families = ", ".join(f"{family} {count}" for family, count in sorted(tried.items()))
    return f"{sum(tried.values())} invalid files: each exit 2, naming file, field and fix, no traceback ({families})"


def test_shipped_projects_are_valid_controls(repo: Path) -> None:
    for name, document in PROJECTS.items():
        path = repo / "projects" / name
        path.write_text(dump(document))
        outcome = run_cli("validate", str(path))
        assert outcome.code == 0, outcome.output
        assert f"valid: {path}" in outcome.output
        # The harness's verdict on a good file: it is not mistaken for a refusal.
        assert problems_with_refusal(outcome, name, "Field required")


@pytest.mark.reliability("fuzzed project files")
def test_fuzzed_project_files_exit_2_with_file_field_and_fix(
    repo: Path, record_property: Callable[[str, object], None]
) -> None:
    path = repo / "projects" / "fuzzed-project.yaml"

    def check(case: Case) -> None:
        assert_refused(run_cli("validate", str(path)), path.name, case.fragment, case)

    tried = fuzz(invalid_projects(), 240, lambda case: path.write_bytes(case.content), check)
    assert len(tried) >= 10
    record_property("cases", sum(tried.values()))
    record_property("observed", observed(tried))


def test_shipped_standard_is_a_valid_control(repo: Path) -> None:
    project = compliance_project(repo, "standards/lab-baseline.yaml")
    outcome = run_cli("validate", str(project))
    assert outcome.code == 0, outcome.output


def compliance_project(repo: Path, standard: str) -> Path:
    document = copy.deepcopy(PROJECTS["compliance-audit.yaml"])
    document["compliance"]["standard"] = standard
    path = repo / "projects" / "audit.yaml"
    path.write_text(dump(document))
    return path


@pytest.mark.reliability("fuzzed standard files")
def test_fuzzed_standard_files_exit_2_with_file_field_and_fix(
    repo: Path, record_property: Callable[[str, object], None]
) -> None:
    standard = repo / "standards" / "fuzzed-standard.yaml"
    project = compliance_project(repo, f"standards/{standard.name}")

    def check(case: Case) -> None:
        assert_refused(run_cli("validate", str(project)), standard.name, case.fragment, case)

    tried = fuzz(invalid_standards(), 100, lambda case: standard.write_bytes(case.content), check)
    record_property("cases", sum(tried.values()))
    record_property("observed", observed(tried))


def test_lab_shaped_inventory_is_a_valid_control(repo: Path) -> None:
    inventory = repo / "inventory" / "good.yml"
    inventory.write_text(dump(INVENTORY))
    outcome = run_cli("plan", str(repo / "absent-playbook.yml"), "-i", str(inventory))
    # Read whole: only the playbook is missing (nothing runs without it).
    assert outcome.code == 2, outcome.output
    assert "absent-playbook.yml does not exist" in outcome.output
    assert problems_with_refusal(outcome, inventory.name, "inventory")


@pytest.mark.reliability("fuzzed inventories")
def test_fuzzed_inventories_exit_2_with_file_and_fix(
    repo: Path, record_property: Callable[[str, object], None]
) -> None:
    inventory = repo / "inventory" / "fuzzed-hosts.yml"
    playbook = repo / "absent-playbook.yml"  # a valid inventory would end at the missing playbook: nothing runs

    def check(case: Case) -> None:
        outcome = run_cli("plan", str(playbook), "-i", str(inventory))
        assert_refused(outcome, inventory.name, case.fragment, case)
        assert "absent-playbook.yml" not in outcome.output, f"the inventory was accepted ({case.family})"

    # Fewer examples: the ones that pass the YAML checks cost an ansible-inventory run (0.5-2 s here).
    tried = fuzz(invalid_inventories(), 45, lambda case: inventory.write_bytes(case.content), check)
    record_property("cases", sum(tried.values()))
    record_property("observed", observed(tried))


# -- injection: refused, or passed as data --------------------------------------------------------------------------

# Per field, what a payload meets: refused with exit 2 (the field names something itpm uses as a name or path)
# or accepted as text (it is shown to people, or handed to playbooks and checks as data, never as code).
REFUSED_FIELDS: list[tuple[Path_, str]] = [
    (("name",), "name"),
    (("environment",), "environment"),
    ((*STEP, "name"), "steps[0].name"),
    ((*STEP, "playbook"), "steps[0].playbook"),
    ((*STRATEGY, "change_window", "timezone"), "timezone"),
]


@pytest.mark.reliability("shell and path injection")
@pytest.mark.parametrize("payload", PAYLOADS)
def test_names_and_paths_refuse_injection(
    payload: str, repo: Path, record_property: Callable[[str, object], None]
) -> None:
    tried = 0
    for path, fragment in REFUSED_FIELDS:
        document = copy.deepcopy(PROJECTS["baseline-rollout.yaml"])
        if path[-1] == "timezone":
            get(document, STRATEGY)["change_window"] = {"start": "22:00", "end": "02:00", "timezone": payload}
        else:
            get(document, path[:-1])[path[-1]] = payload
        project = repo / "projects" / "injected.yaml"
        project.write_text(dump(document))
        assert_refused(run_cli("validate", str(project)), project.name, fragment)
        tried += 1
    # Variable names (project vars and `itpm recover --var`).
    document = copy.deepcopy(PROJECTS["baseline-rollout.yaml"])
    document["vars"] = {payload: 1}
    project = repo / "projects" / "injected.yaml"
    project.write_text(dump(document))
    assert_refused(run_cli("validate", str(project)), project.name, "vars")
    outcome = run_cli("recover", "db-primary", "--var", f"{payload}=1")
    assert outcome.code == 2, outcome.output
    assert "--var" in outcome.output
    assert not CONTROL_CHARACTERS.search(outcome.output)
    tried += 2
    # Host and group names in an inventory.
    for where in ("host", "group"):
        inventory_document = copy.deepcopy(INVENTORY)
        if where == "host":
            get(inventory_document, HOSTS_OF_WEB)[payload] = {"ansible_host": "10.77.0.9"}
        else:
            inventory_document["all"]["children"][payload] = {"hosts": {"h9": None}}
        inventory = repo / "inventory" / "injected.yml"
        inventory.write_text(dump(inventory_document))
        assert_refused(run_cli("plan", str(repo / "absent.yml"), "-i", str(inventory)), inventory.name, where)
        tried += 1
    record_property("cases", tried)
    record_property("observed", "every name, path and var name refused with exit 2 and a fix; nothing ran")


@pytest.mark.reliability("shell and path injection")
def test_free_text_and_variable_values_are_accepted_as_data(
    repo: Path, record_property: Callable[[str, object], None]
) -> None:
    document = copy.deepcopy(PROJECTS["baseline-rollout.yaml"])
    document["title"] = " ".join(PAYLOADS)
    document["objectives"] = list(PAYLOADS)
    document["steps"][0]["description"] = PAYLOADS[1]
    document["vars"] = {f"v{i}": payload for i, payload in enumerate(PAYLOADS)}
    project = repo / "projects" / "text.yaml"
    project.write_text(dump(document))
    outcome = run_cli("validate", str(project))
    assert outcome.code == 0, outcome.output
    assert not CONTROL_CHARACTERS.search(outcome.output)
    assert "[/] [bold]" in outcome.output  # console markup in a title is shown as text
    record_property("cases", len(PAYLOADS))
    record_property("observed", "titles, descriptions and var values with payloads validate and print as text")


# Renders "{{ x }}|{{ nested.list[0] }}" over each extra vars file given as an argument, as a task's template is
# rendered over the vars Ansible reads with `-e @file`; prints the results as JSON. Run in a process of its own:
# Ansible's collection loader refuses to start in a test process whose import hooks other tests have changed.
_RENDER = """
import json, sys
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
loader = DataLoader()
results = []
for path in sys.argv[1:]:
    variables = loader.load_from_file(path, trusted_as_template=True)
    template = trust_as_template("{{ x }}|{{ nested.list[0] }}")
    results.append(Templar(loader=loader, variables=variables).template(template))
print(json.dumps(results))
"""


@pytest.mark.reliability("shell and path injection")
def test_extra_vars_reach_ansible_as_data_not_templates(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    payloads = [p for p in PAYLOADS if "{{" in p] + ["{{ 6 * 7 }}", "{% if true %}x{% endif %}", "{{ x }}"]
    files = []
    for index, payload in enumerate(payloads):
        write_extra_vars(tmp_path / str(index), {"x": payload, "nested": {"list": [payload]}, "count": 3})
        files.append(tmp_path / str(index) / "env" / "extravars")
        assert files[-1].stat().st_mode & 0o777 == 0o600
    # Control: a value as plain JSON, as ansible-runner's own `extravars=` writes it, is rendered as a template.
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({"x": "{{ 6 * 7 }}", "nested": {"list": ["{{ 6 * 7 }}"]}}))
    done = subprocess.run(
        [sys.executable, "-c", _RENDER, *map(str, files), str(plain)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    *rendered, control = json.loads(done.stdout)
    assert rendered == [f"{payload}|{payload}" for payload in payloads]
    assert control == "42|42"
    record_property("cases", len(payloads))
    record_property("observed", "each template in a value came back as its text; nothing ran on the controller")


def test_extra_vars_keep_numbers_and_booleans() -> None:
    text = render_extra_vars({"n": 3, "b": True, "none": None, "f": 1.5, "s": "3"})
    assert yaml.safe_load(text.replace("!unsafe ", "")) == {"n": 3, "b": True, "none": None, "f": 1.5, "s": "3"}
    assert "s: !unsafe '3'" in text


@pytest.mark.reliability("shell and path injection")
def test_stakeholder_file_drops_stay_in_the_repository(
    repo: Path, record_property: Callable[[str, object], None]
) -> None:
    tried = 0
    for channel in ("file:../../tmp/x", "file:../", "file:reports/../../../etc", "file:a/../.."):
        document = copy.deepcopy(PROJECTS["baseline-rollout.yaml"])
        document["stakeholders"] = [{"name": "Casey", "role": "cio", "channel": channel}]
        project = repo / "projects" / "drop.yaml"
        project.write_text(dump(document))
        assert_refused(run_cli("validate", str(project)), project.name, "leads outside the repository")
        tried += 1
    record_property("cases", tried)
    record_property("observed", "a file: channel with .. out of the repository is refused with exit 2")


@pytest.mark.reliability("shell and path injection")
def test_host_patterns_select_only_hosts_of_the_inventory(record_property: Callable[[str, object], None]) -> None:
    """A pattern (--limit, scope.hosts, a step's hosts) reaches Ansible only as the names of hosts it selected."""
    hosts = ["h1", "h2", "h3", "h4", "h5"]
    groups = {"all": tuple(hosts), "web": ("h1", "h2", "h4"), "db": ("h3",), "spare": ("h5",)}
    outcomes = Counter[str]()
    for payload in PAYLOADS:
        try:
            selected = select_hosts(payload, hosts, groups)
        except InventoryError as error:
            assert "fix" not in error.message  # the message, with its fix apart
            outcomes["refused"] += 1
        else:
            assert set(selected) <= set(hosts), payload
            outcomes["selected known hosts only"] += 1
    assert outcomes["refused"] >= len(PAYLOADS) - 2  # `h1,h2` and `web:!h1` are patterns on purpose
    record_property("cases", len(PAYLOADS))
    record_property("observed", ", ".join(f"{n} {what}" for what, n in sorted(outcomes.items())))


@pytest.mark.reliability("shell and path injection")
def test_run_ids_given_on_the_command_line_are_only_looked_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, record_property: Callable[[str, object], None]
) -> None:
    """A run id names files (runs/<id>, reports/<id>.html) once a run exists; an unknown one is refused first."""
    monkeypatch.setenv("ITPM_STATE_DIR", str(tmp_path / "state"))
    reports = tmp_path / "reports"
    # `--`: a payload like `-oProxyCommand=sh` would otherwise be an unknown option (exit 2 from the parser).
    commands = [["log", "--", "{}"], ["status", "--", "{}"], ["report", "--out", str(reports), "--", "{}"]]
    commands += [["resume", "--", "{}"], ["note", "--", "{}", "a note"]]
    tried = 0
    for payload in PAYLOADS:
        for command in commands:
            outcome = run_cli(*[part.format(payload) if part == "{}" else part for part in command])
            assert outcome.code == 2, f"{command[0]} {payload!r}: {outcome.output}"
            assert "fix:" in outcome.output and not CONTROL_CHARACTERS.search(outcome.output)
            assert not any(noise in outcome.output for noise in NOISE), outcome.output
            tried += 1
    assert not reports.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state"]  # nothing written beside the state directory
    record_property("cases", tried)
    record_property("observed", "log, status, report, resume and note refuse unknown run ids with exit 2")
