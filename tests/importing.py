"""Running the admin CLI's imports as an administrator would (shared by the import tests)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func
from sqlmodel import select


def cli(app, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=list(args))


def load(app, tmp_path: Path, kind: str, content: str, encoding: str = "utf-8"):  # type: ignore[no-untyped-def]
    """Run `import-<kind>` on a file with this content."""
    path = tmp_path / f"{kind}.csv"
    path.write_bytes(content.encode(encoding))
    return cli(app, f"import-{kind}", str(path))


def count(session, model) -> int:  # type: ignore[no-untyped-def]
    return int(session.exec(select(func.count()).select_from(model)).one())
