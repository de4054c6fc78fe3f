"""A real browser for page tests: Debian's chromium, driven by Playwright (shared by the page tests)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MARKS = [
    pytest.mark.slow,
    # CI installs chromium (.ci/run), so there a missing browser fails instead of skipping.
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]
