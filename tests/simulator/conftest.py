"""The stand-ins' tests move Tencent's clock by hand: codes and tokens expire without waiting."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from config import Settings
from simulator import server


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def simulator() -> Iterator[server.Running]:
    """The simulator process's endpoints, with no app behind them (these tests never need one)."""
    url, stop = server.serve_in_thread(Flask("nothing"))
    stop()
    running = server.start(url, settings=Settings())
    yield running
    running.stop()
