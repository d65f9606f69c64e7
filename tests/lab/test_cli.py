"""The CLI on a real lab: exit 0 when every host is fine, 1 for a failed check, 2 for hosts it cannot reach."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from itpm.lab import faults

from .conftest import REPO, Lab, wrong_host_key


def itpm(lab: Lab, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ITPM_STATE_DIR": str(lab.settings.state_dir), "COLUMNS": "250"}
    command = [sys.executable, "-m", "itpm", *args, "-i", str(lab.inventory_path)]
    return subprocess.run(command, check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_apply_and_verify_exit_0_with_a_table_per_host(converged: Lab) -> None:
    done = itpm(converged, "apply", "playbooks/baseline.yml", "--limit", "web", "--verify", "checks/baseline")
    assert done.returncode == 0, done.stdout + done.stderr
    for host in ("h1", "h2", "h4"):
        assert f"│ {host}   │ ok" in done.stdout and f"│ {host}   │ 11/11" in done.stdout
    assert "h3" not in done.stdout
    assert "task Status daemon running and started at boot" in done.stderr  # events streamed as they came


def test_failed_check_exits_1_naming_host_and_check(converged: Lab) -> None:
    converged.host("h5").run("rm /etc/issue.net")
    done = itpm(converged, "verify", "checks/baseline", "--limit", "h5")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "test_banner_file_holds_inventory_text: login banner /etc/issue.net is missing" in done.stdout


@pytest.fixture
def sshd_down_on_h4(converged: Lab) -> Iterator[Lab]:
    faults.kill_sshd(converged.name, "h4")
    yield converged
    faults.start_sshd(converged.name, "h4")


def test_unreachable_host_exits_2_naming_it(sshd_down_on_h4: Lab) -> None:
    done = itpm(sshd_down_on_h4, "apply", "playbooks/baseline.yml", "--limit", "h3,h4")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "unreachable h4: ssh: connect to host 10.77." in done.stderr
    assert "unreachable: h4. fix:" in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr


def test_refused_host_key_exits_2_saying_how_to_accept_it(converged: Lab) -> None:
    with wrong_host_key(converged, "h2") as address:
        applied = itpm(converged, "apply", "playbooks/baseline.yml", "--limit", "h2")
        verified = itpm(converged, "verify", "checks/baseline", "--limit", "h2")
    assert applied.returncode == 2 and verified.returncode == 2
    assert "host key refused" in " ".join(applied.stdout.split())
    # The table wraps long messages inside its cell, wherever the lab's paths put the break: compare without
    # spaces and cell borders.
    assert f"ssh-keygen-R{address}" in re.sub(r"[\s│]", "", verified.stdout)
