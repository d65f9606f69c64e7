"""Bad input at the command line: a clear message naming the file and the fix, exit code 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def itpm(*args: str, state: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ITPM_STATE_DIR": str(state), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "itpm", *args],
        check=False,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    path = tmp_path / "hosts.yml"
    path.write_text("all:\n  children:\n    web:\n      hosts:\n        w1: {ansible_host: 127.0.0.1}\n")
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["apply", "playbooks/nope.yml", "-i", "{inventory}"], "playbook playbooks/nope.yml does not exist"),
        (["apply", "playbooks/baseline.yml", "-i", "{tmp}/missing.yml"], "missing.yml does not exist"),
        (["apply", "playbooks/baseline.yml", "-i", "{broken}"], "broken.yml is not valid YAML at line 4, column 1"),
        (["apply", "playbooks/baseline.yml", "-i", "{inventory}", "-l", "db"], "'db' matches no host or group"),
        (["apply", "playbooks/baseline.yml", "-i", "{inventory}", "-l", "w9"], "'w9' matches no host or group"),
        (["plan", "playbooks/baseline.yml", "-i", "{inventory}", "-l", "web:&nope"], "'nope' matches no host"),
        (["verify", "checks/nope", "-i", "{inventory}"], "check path checks/nope does not exist"),
        (["lab", "up", "--name", "Bad_Name"], "lab name 'Bad_Name' is not usable"),
        (["lab", "up", "--hosts", "0"], "--hosts 0: a lab has 1 to 250 hosts"),
        (["apply"], "Missing argument"),
        (["apply", "playbooks/baseline.yml", "--bogus"], "No such option: --bogus"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(args: list[str], message: str, inventory: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("all:\n  hosts:\n    a: {ansible_host: [1\n")
    filled = [a.format(tmp=tmp_path, inventory=inventory, broken=broken) for a in args]
    done = itpm(*filled, state=tmp_path / "state")
    assert done.returncode == 2, done.stdout + done.stderr
    output = " ".join((done.stdout + done.stderr).split())  # rich wraps long lines
    assert message in output
    assert "Traceback" not in output
    if done.stderr.startswith("error:"):
        assert "fix:" in output


def test_playbook_ansible_cannot_load_is_bad_input(inventory: Path, tmp_path: Path) -> None:
    playbook = tmp_path / "broken-play.yml"
    playbook.write_text("- hosts: all\n  tasks:\n    - name: x\n      no_such_module_anywhere: {}\n")
    done = itpm("apply", str(playbook), "-i", str(inventory), state=tmp_path / "state")
    assert done.returncode == 2, done.stdout + done.stderr
    output = " ".join(done.stderr.split())
    assert f"ansible-playbook could not run {playbook}" in output and "no_such_module_anywhere" in output
    assert "Traceback" not in output
