"""Ctrl-C and SIGTERM stop a run in any phase, during a playbook and after one (itpm issue 14, defect 7)."""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from itpm.execution.events import AnsibleEvent
from itpm.execution.runner import run_playbook
from itpm.interrupts import (
    Interrupted,
    deferred_signals,
    raise_if_stop_requested,
    stop_on_signals,
    stop_requested,
)
from itpm.inventory import Inventory, load_inventory
from itpm.settings import Settings

_SLEEP_TASK = "Sleep a while"
_PLAYBOOK = f"""\
- name: Sleep
  hosts: all
  gather_facts: false
  tasks:
    - name: {_SLEEP_TASK}
      ansible.builtin.command: sleep {{{{ nap }}}}
      changed_when: false
"""


@pytest.fixture(autouse=True)
def _main_thread_handlers() -> Iterator[None]:
    """Every test here runs in the main thread (pytest-xdist's too) and leaves SIGINT and SIGTERM as it found them."""
    assert threading.current_thread() is threading.main_thread()
    before = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    yield
    assert {number: signal.getsignal(number) for number in before} == before


@pytest.fixture
def local(tmp_path: Path) -> tuple[Path, Inventory, Settings]:
    """A sleep playbook, an inventory of localhost reached without SSH, and settings keeping state in tmp_path."""
    playbook = tmp_path / "sleep.yml"
    playbook.write_text(_PLAYBOOK)
    hosts = tmp_path / "hosts.ini"
    hosts.write_text(f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    return playbook, load_inventory(hosts), Settings(state_dir=tmp_path / "state", ansible_strategy="linear")


def test_handlers_are_ours_within_the_block_and_the_previous_ones_after() -> None:
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with stop_on_signals():
        ours = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
        assert ours[0] is ours[1] and ours[0] not in before
        with stop_on_signals():
            pass
        assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == ours
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


@pytest.mark.parametrize(
    ("number", "name", "exit_code"), [(signal.SIGINT, "SIGINT", 130), (signal.SIGTERM, "SIGTERM", 143)]
)
def test_a_signal_raises_interrupted_saying_how_to_carry_on(number: int, name: str, exit_code: int) -> None:
    with pytest.raises(Interrupted) as raised, stop_on_signals():
        assert not stop_requested()
        signal.raise_signal(number)
    stop = raised.value
    assert (stop.signal_name, stop.exit_code) == (name, exit_code)
    assert str(stop) == f"stopped by {name}\n  fix: `itpm resume RUN` carries the run on from where it stopped"
    assert "itpm resume r7" in str(stop.for_run("r7"))
    assert stop_requested()
    assert isinstance(stop, KeyboardInterrupt) and not isinstance(stop, Exception)  # no `except Exception` eats it


def test_an_outermost_block_starts_with_no_stop_requested() -> None:
    with pytest.raises(Interrupted), stop_on_signals():
        signal.raise_signal(signal.SIGTERM)
    with stop_on_signals():
        assert not stop_requested()
        raise_if_stop_requested()  # nothing to raise


def test_a_deferred_section_ends_before_the_signal_is_raised() -> None:
    done: list[str] = []
    with pytest.raises(Interrupted) as raised, stop_on_signals(), deferred_signals():
        with deferred_signals():
            signal.raise_signal(signal.SIGTERM)
            done.append("inner")
        assert stop_requested()  # noted at once
        done.append("outer")
    assert done == ["inner", "outer"]
    assert raised.value.signal_name == "SIGTERM"


def test_a_deferred_section_failing_still_stops_and_keeps_its_error_as_context() -> None:
    with pytest.raises(Interrupted) as raised, stop_on_signals(), deferred_signals():
        signal.raise_signal(signal.SIGINT)
        raise OSError("disk full")
    assert isinstance(raised.value.__context__, OSError)


def test_a_deferred_signal_raised_within_the_section_is_raised_once() -> None:
    with stop_on_signals():
        with pytest.raises(Interrupted) as raised, deferred_signals():
            signal.raise_signal(signal.SIGINT)
            raise_if_stop_requested("r1")  # the section reached a safe point of its own
        assert raised.value.run_id == "r1" and raised.value.__context__ is None
        with deferred_signals():
            pass  # the stop was raised already, not again here


def test_a_worker_thread_sees_the_stop_and_installs_nothing() -> None:
    seen: list[bool] = []

    def worker() -> None:
        with stop_on_signals(), deferred_signals():  # not the main thread: both do nothing
            seen.append(stop_requested())
            try:
                raise_if_stop_requested("r2")
            except Interrupted as stop:
                seen.append(stop.run_id == "r2")

    with pytest.raises(Interrupted), stop_on_signals(), deferred_signals():
        signal.raise_signal(signal.SIGTERM)
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
    assert seen == [True, True]


def test_interrupted_survives_pickling() -> None:
    stop = pickle.loads(pickle.dumps(Interrupted("SIGTERM", run_id="r3")))  # noqa: S301 (our own bytes)
    assert (stop.signal_name, stop.run_id, stop.exit_code) == ("SIGTERM", "r3", 143)


def test_sigterm_during_a_playbook_ends_ansible_then_raises(local: tuple[Path, Inventory, Settings]) -> None:
    playbook, inventory, settings = local
    task_started = threading.Event()
    sent_at: list[float] = []

    def on_event(event: AnsibleEvent) -> None:
        if event.kind == "runner_on_start" and event.task == _SLEEP_TASK:
            task_started.set()

    def terminate_once_the_task_runs() -> None:
        if task_started.wait(timeout=30):
            time.sleep(0.3)  # the main thread is back waiting on Ansible
            sent_at.append(time.monotonic())
            os.kill(os.getpid(), signal.SIGTERM)

    sender = threading.Thread(target=terminate_once_the_task_runs)
    with stop_on_signals():
        sender.start()
        try:
            with pytest.raises(Interrupted) as raised:
                run_playbook(
                    playbook,
                    inventory,
                    settings,
                    extravars={"nap": 20},
                    on_event=on_event,
                    run_id="apply-t1",
                    owner="p1",
                )
            stopped_at = time.monotonic()
        finally:
            task_started.set()
            sender.join()
    assert sent_at, "the sleep task never started"
    assert stopped_at - sent_at[0] < 3, "Ansible was not ended promptly"
    assert (raised.value.signal_name, raised.value.run_id) == ("SIGTERM", "p1")
    assert _alive_with(b"ITPM_ANSIBLE_RUN=apply-t1") == [], "Ansible's processes outlived the stop"
    assert _alive_children("ansible-playbook") == []


def test_a_signal_after_a_playbook_still_stops(local: tuple[Path, Inventory, Settings]) -> None:
    playbook, inventory, settings = local
    with stop_on_signals():
        result = run_playbook(playbook, inventory, settings, extravars={"nap": 0})
        assert result.rc == 0 and not stop_requested()
        with pytest.raises(Interrupted) as raised:
            signal.raise_signal(signal.SIGINT)  # ansible-runner's own handler used to swallow this
            time.sleep(2)
    assert raised.value.exit_code == 130


def test_a_playbook_leaves_the_handlers_it_found(local: tuple[Path, Inventory, Settings]) -> None:
    playbook, inventory, settings = local
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    run_playbook(playbook, inventory, settings, extravars={"nap": 0})
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_a_stop_requested_before_a_playbook_starts_no_ansible(local: tuple[Path, Inventory, Settings]) -> None:
    playbook, inventory, settings = local
    events: list[AnsibleEvent] = []
    with pytest.raises(Interrupted) as raised, stop_on_signals(), deferred_signals():
        signal.raise_signal(signal.SIGTERM)  # deferred: the caller is, say, writing down the end of a batch
        run_playbook(playbook, inventory, settings, extravars={"nap": 0}, on_event=events.append, owner="p2")
    assert raised.value.run_id == "p2"  # raised by run_playbook, not at the end of the caller's section
    assert events == []  # Ansible never started


def _alive_with(marker: bytes) -> list[int]:
    """Processes (not zombies: their environment reads empty) whose environment holds ``marker``."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def _alive_children(name: str) -> list[int]:
    """This process's children (not zombies) whose command line names ``name``."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit():
                continue
            stat = (proc / "stat").read_text()
            state, ppid = stat.rsplit(")", 1)[1].split()[:2]
            if int(ppid) == os.getpid() and state != "Z" and name in (proc / "cmdline").read_text():
                found.append(int(proc.name))
        except (OSError, ValueError):
            continue
    return found
