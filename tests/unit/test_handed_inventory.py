"""The run hands its parsed inventory to the checks' processes: sealed, private, and no `ansible-inventory` there.

The last two tests run real checks (pytest with xdist workers) that read only inventory variables, so they need
no SSH host; a conftest beside the checks counts the `ansible-inventory` commands each of their processes starts.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from itpm.errors import InventoryError
from itpm.inventory import Inventory, InventoryHost, load_inventory
from itpm.models.results import CheckOutcome
from itpm.settings import Settings
from itpm.verification.backend import InventoryBackend, inventory_at
from itpm.verification.handed_inventory import KEY_VARIABLE, SNAPSHOT_VARIABLE, handed_inventory, received_inventory
from itpm.verification.runner import verify

SECRET = "vault-decrypted-s3cret"


def _inventory(path: Path) -> Inventory:
    hosts = {
        name: InventoryHost(name=name, address=f"10.0.0.{i}", groups=("web",), vars={"db_password": SECRET})
        for i, name in enumerate(("h1", "h2"), start=2)
    }
    return Inventory(path=path, hosts=hosts, groups={"all": ("h1", "h2"), "web": ("h1", "h2")})


@pytest.fixture(autouse=True)
def _fresh_process_caches() -> Iterator[None]:
    """Each test starts as a new checks' process would: nothing read yet."""
    inventory_at.cache_clear()
    yield
    inventory_at.cache_clear()


def test_the_handed_inventory_is_the_run_s_sealed_private_and_gone_afterwards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inventory = _inventory(tmp_path / "hosts.yml")
    with handed_inventory(inventory) as handed:
        snapshot = Path(handed[SNAPSHOT_VARIABLE])
        assert stat.S_IMODE(snapshot.stat().st_mode) == 0o600
        assert stat.S_IMODE(snapshot.parent.stat().st_mode) == 0o700
        assert SECRET not in snapshot.read_text() and "10.0.0.2" not in snapshot.read_text()  # no dots in Fernet
        for name, value in handed.items():
            monkeypatch.setenv(name, value)
        assert received_inventory(str(tmp_path / "hosts.yml")) == inventory
        assert received_inventory(str(tmp_path / "other.yml")) is None  # another inventory is parsed as before
    assert not snapshot.parent.exists()


def test_without_one_the_checks_have_none(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(SNAPSHOT_VARIABLE, raising=False)
    assert received_inventory(str(tmp_path / "hosts.yml")) is None


def test_a_snapshot_that_does_not_unseal_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with handed_inventory(_inventory(tmp_path / "hosts.yml")) as handed:
        monkeypatch.setenv(SNAPSHOT_VARIABLE, handed[SNAPSHOT_VARIABLE])
        with handed_inventory(_inventory(tmp_path / "hosts.yml")) as other:
            monkeypatch.setenv(KEY_VARIABLE, other[KEY_VARIABLE])  # another verification's key
            with pytest.raises(InventoryError, match=r"inventory handed to the checks .* cannot be read"):
                received_inventory(str(tmp_path / "hosts.yml"))


def test_the_backend_takes_the_handed_inventory_over_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "hosts.yml"
    path.write_text("all:\n  hosts:\n    h1: {ansible_host: 10.9.9.9}\n")
    with handed_inventory(_inventory(path)) as handed:
        for name, value in handed.items():
            monkeypatch.setenv(name, value)
        backend = InventoryBackend("h1", ansible_inventory=str(path))
        assert backend.inventory_host.address == "10.0.0.2"  # the run's view, not the file parsed again
        assert InventoryBackend.get_hosts("web", ansible_inventory=str(path)) == ["h1", "h2"]
    monkeypatch.delenv(SNAPSHOT_VARIABLE)
    inventory_at.cache_clear()
    assert InventoryBackend("h1", ansible_inventory=str(path)).inventory_host.address == "10.9.9.9"  # hand-run


def test_a_check_changing_its_vars_changes_them_for_no_other_host(tmp_path: Path) -> None:
    inventory = Inventory(
        path=tmp_path / "hosts.yml",
        hosts={"h1": InventoryHost(name="h1", address="h1", vars={"spec": {"cpus": 2}})},
        groups={"all": ("h1",)},
    )
    variables = InventoryBackend("h1", inventory=inventory).get_variables()
    variables["spec"]["cpus"] = 64
    assert inventory.host("h1").vars == {"spec": {"cpus": 2}}


# Counts, into the file $INVENTORY_RUNS_LOG names, each `ansible-inventory` a checks' process starts.
COUNTING_CONFTEST = """
import os
import subprocess
from pathlib import Path

_run = subprocess.run


def _counting(args, *more, **options):
    if Path(str(args[0])).name == "ansible-inventory":
        with open(os.environ["INVENTORY_RUNS_LOG"], "a") as log:
            log.write(f"{os.getpid()}\\n")
    return _run(args, *more, **options)


subprocess.run = _counting
"""

CHECK = """
def test_vars_reach_the_check(host_vars):
    assert host_vars["role"] == "web" and host_vars["inventory_hostname"].startswith("h")
"""

HOSTS = ("h1", "h2", "h3", "h4")


@pytest.fixture
def checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    """Return a YAML inventory of four hosts, a check directory that counts, and the count's log."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  vars: {role: web}\n  hosts:\n" + "".join(f"    {h}: {{}}\n" for h in HOSTS))
    directory = tmp_path / "counted_checks"
    directory.mkdir()
    (directory / "conftest.py").write_text(COUNTING_CONFTEST)
    (directory / "test_vars.py").write_text(CHECK)
    log = tmp_path / "inventory-runs.log"
    monkeypatch.setenv("INVENTORY_RUNS_LOG", str(log))
    return inventory, directory, log


def _runs(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def test_a_verification_runs_no_ansible_inventory_in_its_checks_processes(
    checks: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    inventory, directory, log = checks
    result = verify([directory], load_inventory(inventory), Settings(state_dir=tmp_path / "state"), workers=2)
    assert [c.outcome for h in HOSTS for c in result.hosts[h].checks] == [CheckOutcome.PASSED] * len(HOSTS)
    assert _runs(log) == []


def test_a_hand_run_parses_the_inventory_once_per_process(checks: tuple[Path, Path, Path]) -> None:
    inventory, directory, log = checks
    hosts = ",".join(f"itpm://{h}" for h in HOSTS)
    command = [sys.executable, "-m", "pytest", "-p", "itpm.verification.pytest_plugin", "-p", "no:cacheprovider"]
    command += ["-q", f"--hosts={hosts}", f"--ansible-inventory={inventory}", str(directory)]
    env = {k: v for k, v in os.environ.items() if k not in (SNAPSHOT_VARIABLE, KEY_VARIABLE)}
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(_runs(log)) == 1  # the counter counts: the one parse of a hand-run pytest, for its four hosts
