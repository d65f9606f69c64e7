"""Host patterns and the inventory view: Ansible's pattern rules, errors that name the fix, parsed once per change."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from itpm.ansible_inventory import reading_inputs
from itpm.errors import InventoryError
from itpm.inventory import load_inventory, natural_key, select_hosts
from itpm.inventory_groups import move_hosts

HOSTS = ["h1", "h2", "h3", "h4", "h5", "h10"]
GROUPS = {"all": tuple(HOSTS), "web": ("h1", "h2", "h4", "h10"), "db": ("h3",), "spare": ("h5",)}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("all", HOSTS),
        ("*", HOSTS),
        ("web", ["h1", "h2", "h4", "h10"]),
        ("web:db", ["h1", "h2", "h3", "h4", "h10"]),
        ("web,db", ["h1", "h2", "h3", "h4", "h10"]),
        ("web:!h2", ["h1", "h4", "h10"]),
        ("!h2:web", ["h1", "h4", "h10"]),  # exclusions apply last whatever their position
        ("all:&web:!h10", ["h1", "h2", "h4"]),
        ("h1*", ["h1", "h10"]),
        ("~h[12]$", ["h1", "h2"]),
        ("web[0]", ["h1"]),
        ("web[1:2]", ["h2", "h4"]),
        ("web[-1]", ["h10"]),
        ("!db", ["h1", "h2", "h4", "h5", "h10"]),
    ],
)
def test_patterns_follow_ansible_rules(pattern: str, expected: list[str]) -> None:
    assert list(select_hosts(pattern, HOSTS, GROUPS)) == expected


@pytest.mark.parametrize("pattern", ["nosuch", "web:nosuch", "h99"])
def test_a_term_matching_nothing_is_an_error(pattern: str) -> None:
    with pytest.raises(InventoryError, match="matches no host or group") as raised:
        select_hosts(pattern, HOSTS, GROUPS)
    assert "web" in raised.value.fix  # the fix lists the groups there are


def test_an_empty_selection_is_an_error() -> None:
    with pytest.raises(InventoryError, match="selects no host"):
        select_hosts("web:&db", HOSTS, GROUPS)


def test_natural_order() -> None:
    assert sorted(["h10", "h2", "h1"], key=natural_key) == ["h1", "h2", "h10"]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_load_yaml_inventory_with_group_vars(tmp_path: Path) -> None:
    inventory = _write(
        tmp_path / "hosts.yml",
        "all:\n  vars:\n    ansible_user: deploy\n  children:\n"
        "    web:\n      hosts:\n        w1: {ansible_host: 10.0.0.5, ansible_port: 2222}\n"
        "    db:\n      children:\n        pg:\n          hosts:\n            d1: {}\n",
    )
    (tmp_path / "group_vars/all").mkdir(parents=True)
    _write(tmp_path / "group_vars/all/topic.yml", "expected_banner: hello\n")
    loaded = load_inventory(inventory)
    assert loaded.groups["db"] == ("d1",)  # members of child groups count
    w1 = loaded.host("w1")
    assert (w1.address, w1.port, w1.user, w1.groups) == ("10.0.0.5", 2222, "deploy", ("web",))
    assert w1.vars["expected_banner"] == "hello"  # group_vars files reach the view, as they reach Ansible
    assert loaded.host("d1").address == "d1"


def test_broken_yaml_names_line_and_column(tmp_path: Path) -> None:
    inventory = _write(tmp_path / "hosts.yml", "all:\n  hosts:\n    a: {ansible_host: [1\n")
    with pytest.raises(InventoryError, match=r"hosts.yml is not valid YAML at line \d+, column \d+"):
        load_inventory(inventory)


def test_yaml_that_is_not_an_inventory(tmp_path: Path) -> None:
    inventory = _write(tmp_path / "hosts.yml", "all:\n  hosts: [a, b]\n")
    with pytest.raises(InventoryError, match="hosts of group 'all' is a list, not a mapping"):
        load_inventory(inventory)


def test_missing_inventory(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="does not exist"):
        load_inventory(tmp_path / "nope.yml")


def test_unknown_host_lists_known_ones(tmp_path: Path) -> None:
    loaded = load_inventory(_write(tmp_path / "hosts.yml", "all:\n  hosts:\n    a1: {}\n"))
    with pytest.raises(InventoryError, match="no host named 'zz'") as raised:
        loaded.host("zz")
    assert "a1" in raised.value.fix


class _AnsibleInventoryRuns:
    """Counts the ``ansible-inventory`` commands this process starts (they still run)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = subprocess.run

        def counting(args: Any, *more: Any, **options: Any) -> Any:
            if Path(str(args[0])).name == "ansible-inventory":
                self.count += 1
            return real(args, *more, **options)

        monkeypatch.setattr(subprocess, "run", counting)


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> _AnsibleInventoryRuns:
    return _AnsibleInventoryRuns(monkeypatch)


MOVABLE = (
    "all:\n  children:\n    web:\n      hosts:\n        h1: {}\n"
    "    spare:\n      hosts:\n        h2: {}\n        h3: {}\n"
)


def test_an_unchanged_inventory_is_parsed_once_per_process(tmp_path: Path, runs: _AnsibleInventoryRuns) -> None:
    inventory = _write(tmp_path / "hosts.yml", "all:\n  hosts:\n    h1: {banner: [hello]}\n")
    first = load_inventory(inventory)
    again = load_inventory(tmp_path / "." / "hosts.yml")  # another spelling of the same path
    assert runs.count == 1
    assert again == first
    first.host("h1").vars["banner"].append("changed by one caller")  # type: ignore[union-attr]
    assert load_inventory(inventory).host("h1").vars["banner"] == ["hello"]  # each caller has its own copy


def test_a_moved_host_is_seen_at_once(tmp_path: Path, runs: _AnsibleInventoryRuns) -> None:
    inventory = _write(tmp_path / "hosts.yml", MOVABLE)
    assert load_inventory(inventory).select("web") == ("h1",)
    move_hosts(inventory, ["h2"], from_group="spare", to_group="web")  # what the engine does after verifying
    assert load_inventory(inventory).select("web") == ("h1", "h2")
    size = inventory.stat().st_size
    move_hosts(inventory, ["h1"], from_group="web", to_group="spare")
    assert inventory.stat().st_size == size  # a rewrite of the same size, a moment later: still a change
    assert load_inventory(inventory).select("web") == ("h2",)
    assert runs.count == 3


def test_group_vars_host_vars_and_ansible_settings_count(
    tmp_path: Path, runs: _AnsibleInventoryRuns, monkeypatch: pytest.MonkeyPatch
) -> None:
    inventory = _write(tmp_path / "hosts.yml", "all:\n  hosts:\n    h1: {}\n")
    assert "port" not in load_inventory(inventory).host("h1").vars
    (tmp_path / "host_vars").mkdir()
    _write(tmp_path / "host_vars" / "h1.yml", "port: 80\n")
    assert load_inventory(inventory).host("h1").vars["port"] == 80
    _write(tmp_path / "host_vars" / "h1.yml", "port: 81\n")
    assert load_inventory(inventory).host("h1").vars["port"] == 81
    monkeypatch.setenv("ANSIBLE_HOST_KEY_CHECKING", "False")  # an Ansible setting may change how it reads
    load_inventory(inventory)
    load_inventory(inventory)
    assert runs.count == 4


def test_a_directory_inventory_is_seen_whole(tmp_path: Path, runs: _AnsibleInventoryRuns) -> None:
    _write(tmp_path / "hosts.yml", "all:\n  hosts:\n    h1: {}\n")
    assert load_inventory(tmp_path).select("all") == ("h1",)
    assert load_inventory(tmp_path).select("all") == ("h1",)
    _write(tmp_path / "more.ini", "h2\n")
    assert load_inventory(tmp_path).select("all") == ("h1", "h2")
    assert runs.count == 2


def test_a_failed_parse_is_not_kept(tmp_path: Path, runs: _AnsibleInventoryRuns) -> None:
    inventory = _write(tmp_path / "hosts.ini", "[web\nh1\n")
    for _ in range(2):
        with pytest.raises(InventoryError, match="cannot be parsed"):
            load_inventory(inventory)
    assert runs.count == 2


def test_a_directory_with_plugin_configs_is_never_kept(tmp_path: Path) -> None:
    _write(tmp_path / "hosts.yml", "all:\n  hosts:\n    h1: {}\n")
    (tmp_path / "group_vars").mkdir()
    _write(tmp_path / "group_vars" / "all.yml", "plugin: a variable, not a plugin config\n")
    assert reading_inputs(tmp_path) is not None
    _write(tmp_path / "cloud.aws_ec2.yml", "plugin: amazon.aws.aws_ec2\n")  # its hosts come from an API
    assert reading_inputs(tmp_path) is None
