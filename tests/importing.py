"""Running the admin CLI's imports as an administrator would (shared by the import tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event, func
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


@contextmanager
def statements(engine) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    """The SQL sent to the database while the block runs, one line each."""
    sent: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        sent.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", seen)
