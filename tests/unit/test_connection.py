"""Connection tuning: forks sized to the batch, mitogen when usable, a clean fallback when not."""

from __future__ import annotations

from pathlib import Path

import pytest

from itpm.execution import connection
from itpm.settings import Settings


def test_forks_follow_the_batch_up_to_the_cap(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, max_forks=20)
    assert connection.tuning_for(settings, 3).forks == 3
    assert connection.tuning_for(settings, 200).forks == 20


def test_mitogen_is_the_default_when_it_loads(tmp_path: Path) -> None:
    tuning = connection.tuning_for(Settings(state_dir=tmp_path), 5)
    env = tuning.environment()
    assert tuning.strategy == "mitogen", tuning.fallback_reason
    assert env["ANSIBLE_STRATEGY"] == "mitogen_linear"
    assert Path(env["ANSIBLE_STRATEGY_PLUGINS"], "mitogen_linear.py").exists()


def test_fallback_to_linear_when_mitogen_is_unusable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection, "mitogen_strategy_dir", lambda: (None, "mitogen does not load: boom"))
    tuning = connection.tuning_for(Settings(state_dir=tmp_path), 5)
    assert tuning.fallback_reason == "mitogen does not load: boom"
    env = tuning.environment()
    assert env["ANSIBLE_STRATEGY"] == "linear" and "ANSIBLE_STRATEGY_PLUGINS" not in env
    assert env["ANSIBLE_PIPELINING"] == "True" and "ControlPersist" in env["ANSIBLE_SSH_ARGS"]


def test_linear_can_be_forced(tmp_path: Path) -> None:
    assert connection.tuning_for(Settings(state_dir=tmp_path, ansible_strategy="linear"), 5).strategy == "linear"


def test_host_key_checking_is_always_on(tmp_path: Path) -> None:
    assert connection.tuning_for(Settings(state_dir=tmp_path), 5).environment()["ANSIBLE_HOST_KEY_CHECKING"] == "True"


def test_each_run_has_its_own_control_path_dir(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    first = connection.tuning_for(settings, 5, "apply-20261121T230000-abc123")
    second = connection.tuning_for(settings, 5, "apply-20261121T230001-def456")
    assert first.control_dir != second.control_dir
    assert first.control_dir.parent == connection.control_path_dir(settings)
    assert first.environment()["ANSIBLE_SSH_CONTROL_PATH_DIR"] == str(first.control_dir)


def test_every_run_bounds_a_slow_task_and_a_dead_connection(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, task_timeout=45, ssh_keepalive_interval=4, ssh_keepalive_count=2)
    tuning = connection.tuning_for(settings, 5)
    env = tuning.environment()
    assert env["ANSIBLE_TASK_TIMEOUT"] == "45"
    # Before any inventory ssh args: OpenSSH keeps the first value it is given.
    assert env["ANSIBLE_SSH_ARGS"].endswith("-o ServerAliveInterval=4 -o ServerAliveCountMax=2")
    # mitogen takes its keepalives from these variables only (given as extra vars, they beat the inventory's).
    assert tuning.connection_vars() == {"mitogen_ssh_keepalive_interval": 4, "mitogen_ssh_keepalive_count": 2}
