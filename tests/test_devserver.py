"""`make run`'s supervisor (devserver.Supervisor) with real child processes: one that exits is started again and
reported, the others are left running; one that refused its configuration is reported once and left stopped."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devserver import CONFIG_ERROR, Supervisor


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


@pytest.fixture
def supervise(tmp_path: Path) -> Iterator[Callable[[dict[str, list[str]]], tuple[Supervisor, list[str]]]]:
    made: list[Supervisor] = []

    def make(commands: dict[str, list[str]]) -> tuple[Supervisor, list[str]]:
        said: list[str] = []
        supervisor = Supervisor(commands, dict(os.environ), cwd=tmp_path, say=said.append, restart_first=0.1)
        for name in commands:
            supervisor.start(name)
        made.append(supervisor)
        return supervisor, said

    yield make
    for supervisor in made:
        supervisor.stop_all(timeout=5)


def poll_until(supervisor: Supervisor, check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        supervisor.poll()
        time.sleep(0.05)


def test_a_process_that_exits_is_started_again_and_the_others_keep_running(supervise, tmp_path: Path) -> None:
    starts = tmp_path / "starts"
    flaky = python(f"open({str(starts)!r}, 'a').write('x'); raise SystemExit(1)")
    supervisor, said = supervise({"steady": python("import time; time.sleep(60)"), "gateway": flaky})
    steady = supervisor.children["steady"].popen
    assert steady is not None

    poll_until(supervisor, lambda: starts.exists() and len(starts.read_text()) >= 3)

    assert steady.poll() is None and supervisor.children["steady"].popen is steady  # never touched
    assert "devserver: gateway exited with status 1" in said[0] and "starting it again in 0.1 s" in said[0]
    assert "The others keep running" in said[0]
    assert "starting it again in 0.2 s (restart 2)" in said[1]  # backing off while it keeps exiting


def test_a_refused_configuration_is_reported_once_and_not_retried(supervise, tmp_path: Path) -> None:
    starts = tmp_path / "starts"
    broken = python(f"open({str(starts)!r}, 'a').write('x'); raise SystemExit({CONFIG_ERROR})")
    supervisor, said = supervise({"steady": python("import time; time.sleep(60)"), "gateway": broken})

    poll_until(supervisor, lambda: bool(said))
    for _ in range(10):  # a restart would be due after 0.1 s
        supervisor.poll()
        time.sleep(0.05)

    assert starts.read_text() == "x"
    (line,) = said
    assert "gateway exited with status 2" in line and "configuration was refused" in line
    assert "not restarted" in line and "The others keep running" in line
    steady = supervisor.children["steady"].popen
    assert steady is not None and steady.poll() is None
