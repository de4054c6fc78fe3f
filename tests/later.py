"""An app served on a real port before it is built, for tests whose app's settings name its own address (the stand-in
pushes to it, the simulator page frames it)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask


class Later:
    """A WSGI app handed to its server once that server is up, so that the app's settings may name its own address."""

    def __init__(self) -> None:
        self.app: Flask | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        assert self.app is not None, "the app was not built"
        return self.app(environ, start_response)
