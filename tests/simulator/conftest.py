"""The stand-ins' tests move Tencent's clock by hand: codes and tokens expire without waiting."""

from __future__ import annotations

import pytest


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()
