"""Real processes for end-to-end tests: each in its own process group, its output in a file, all killed at the end.

rq forks a work horse per job and the horse leaves the worker's process group (os.setpgrp), so stopping a
process here also kills its descendants, found through /proc before the parent goes.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent


_handed_out: set[int] = set()
# Below Linux's default range for the local ports of outgoing connections (32768-60999): a port taken from that range
# may be given to a client's connection (to PostgreSQL, to Redis) before the server meant to listen on it has bound.
_QUIET = range(20000, 32768)


def free_port() -> int:
    """A loopback port nobody listens on right now (the caller binds it soon after), outside the range the kernel
    gives outgoing connections, and never one this process has handed out before (a server given it may still be
    starting). Found in CI: a gunicorn given 49983 could not bind it."""
    while True:
        port = random.choice(_QUIET)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port


def descendants(pid: int) -> list[int]:
    """Children, grandchildren, ... of pid (Linux /proc; empty elsewhere or once pid is gone)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except (OSError, ValueError):
                continue
            found.extend(children)
            todo.extend(children)
    return found


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str] = field(default_factory=dict)  # what it changed in the shared environment

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill9(self) -> list[int]:
        """SIGKILL the process and everything it started, like a crashed machine; returns the descendants' pids."""
        below = descendants(self.pid)
        for pid in [self.pid, *below]:
            _signal(pid, signal.SIGKILL)
        self.popen.wait(10)
        return below

    def terminate(self) -> list[int]:
        """SIGTERM the process group; returns the descendants seen (some may be in other groups)."""
        below = descendants(self.pid)
        if self.alive():
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        return below

    def kill_all(self, below: list[int]) -> None:
        """SIGKILL the process group and the given descendants, and reap the process."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for pid in below:
            _signal(pid, signal.SIGKILL)
        self.popen.wait(10)

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class Processes:
    """Start processes with one environment; `stop_all` (call it in a finally/teardown) leaves none behind."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env, self.log_dir = env, log_dir
        self.started: list[Process] = []

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> Process:
        log = self.log_dir / f"{name}-{len(self.started)}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                [sys.executable, *args],
                cwd=ROOT,
                env=self.env | (env or {}),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() takes gunicorn's workers with it
            )
        self.started.append(Process(name, popen, log, env or {}))
        return self.started[-1]

    def run(self, *args: str, timeout: float = 60, env: dict[str, str] | None = None) -> str:
        """Run a command to completion (the admin CLI); its output, or AssertionError with it."""
        done = subprocess.run(
            [sys.executable, *args],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        output = (done.stdout + done.stderr).decode(errors="replace")
        assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{output}"
        return output

    def stop_all(self, grace: float = 3.0) -> None:
        """SIGTERM every process group at once, then SIGKILL what is left after `grace` (and every descendant)."""
        below = {id(p): p.terminate() for p in self.started}
        deadline = time.monotonic() + grace
        for process in self.started:
            try:
                process.popen.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for process in self.started:
            process.kill_all(below[id(process)])

    def report(self) -> str:
        """The last lines each process wrote: what a failing test shows."""
        return "\n".join(
            f"--- {p.name} (pid {p.pid}, {'running' if p.alive() else f'exit {p.popen.returncode}'}) ---\n{p.tail()}"
            for p in self.started
        )

    def wait_for(self, check: Callable[[], T], timeout: float, what: str) -> T:
        """Poll check() until truthy; AssertionError naming `what`, with the processes' output, after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"still waiting after {timeout} s for {what}\n{self.report()}")
            time.sleep(0.05)
