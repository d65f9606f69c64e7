"""Host patterns and the inventory view: Ansible's pattern rules, and errors that name the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from itpm.errors import InventoryError
from itpm.inventory import load_inventory, natural_key, select_hosts

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
