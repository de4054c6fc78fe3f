"""Faults injected into a Tencent stand-in on demand: errors answered instead of the real outcome, and slowness.

Each stand-in (simulator.wechat_api, simulator.wecom_api, simulator.wecom_webhook) holds one `Faults` and hands
it every request: `hold(path)` before looking at it, then `take(path)` for the errcode to answer instead, if any.

Imports none of our code.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Fault:
    """An injected error: answered instead of the real outcome, `count` times or until `until`."""

    errcode: int
    path_suffix: str | None
    count: int | None
    until: float | None


@dataclass
class Faults:
    """The injected errors and slowness of one stand-in, behind a lock of their own: nothing else a stand-in keeps
    has to change together with them."""

    clock: Callable[[], float] = time.time
    _faults: list[Fault] = field(default_factory=list)
    _delay: float = 0.0
    _delay_suffix: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _wake: threading.Event = field(default_factory=threading.Event)

    def inject(
        self, errcode: int, path_suffix: str | None = None, count: int | None = None, seconds: float | None = None
    ) -> None:
        """Answer `errcode` to requests whose path ends with `path_suffix` (any when None), `count` times (default
        once) or for `seconds`."""
        with self._lock:
            until = self.clock() + seconds if seconds is not None else None
            if count is None and until is None:
                count = 1
            self._faults.append(Fault(int(errcode), path_suffix, count, until))

    def slow(self, seconds: float, path_suffix: str | None = None) -> None:
        """Hold every request (or those ending with `path_suffix`) this long before answering; 0 stops it."""
        with self._lock:
            self._delay, self._delay_suffix = float(seconds), path_suffix
            self._wake.clear()

    def reset(self) -> None:
        """Clear injected faults and slowness, and let go of requests held now."""
        with self._lock:
            self._faults.clear()
            self._delay, self._delay_suffix = 0.0, None
            self._wake.set()

    def hold(self, path: str = "") -> None:
        """Wait as `slow` asks before answering a request for `path` (`reset` ends the wait early)."""
        with self._lock:
            delay = self._delay if self._delay and _matches(path, self._delay_suffix) else 0.0
        # Outside the lock: a held request must not stop others being injected, held or let go.
        if delay:
            self._wake.wait(delay)

    def take(self, path: str = "") -> int | None:
        """The errcode of the first fault that applies to `path` (using up one of its count), or None."""
        with self._lock:
            now = self.clock()
            for fault in list(self._faults):
                if fault.until is not None and now >= fault.until:
                    self._faults.remove(fault)
                    continue
                if not _matches(path, fault.path_suffix):
                    continue
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                return fault.errcode
            return None


class FaultControls:
    """`reset` and `close` for a stand-in that holds its `Faults` as `_faults` (its own `inject` and `slow` say
    which requests they can pick)."""

    _faults: Faults

    def reset(self) -> None:
        """Clear injected faults and slowness; what was received or delivered stays."""
        self._faults.reset()

    def close(self) -> None:
        """Release requests held by `slow` (a test is ending)."""
        self.reset()


def _matches(path: str, suffix: str | None) -> bool:
    return suffix is None or path.rstrip("/").endswith(suffix.rstrip("/"))
