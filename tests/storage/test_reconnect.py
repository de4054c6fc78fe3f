"""A PostgreSQL connection closed by the server while it sat in the pool (a restart, an idle timeout, a failover).

Only with DATABASE_URL: SQLite has no server to close a connection. The whole restart under load, with gunicorn,
the worker and the gateway, is tests/faults/test_postgres.py.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

import storage.db
from storage.db import Prebuilt, make_engine


def backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def kill(url: str, pid: int) -> None:
    other = make_engine(url)
    with other.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    other.dispose()


@pytest.fixture
def pg(postgres_url: str | None) -> str:
    if postgres_url is None:
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    return postgres_url


def test_an_idle_connection_closed_by_the_server_is_replaced_before_use(
    pg: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(pg)
    first = backend_pid(engine)
    kill(pg, first)
    monkeypatch.setattr(storage.db, "PING_AFTER_IDLE_SECONDS", 0.0)  # as if it had sat in the pool for a while
    # no error reaches the caller: the ping found the dead connection and the pool connected afresh
    assert backend_pid(engine) != first
    engine.dispose()


def test_a_connection_used_a_moment_ago_is_not_pinged_and_one_failure_renews_the_pool(
    pg: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under load no checkout pays for a ping. A server gone within the last second costs the statement that meets
    # it (intake answers 503, WeChat retries), and the next one runs on a new connection.
    monkeypatch.setattr(storage.db, "PING_AFTER_IDLE_SECONDS", 3600.0)
    engine = make_engine(pg)
    first = backend_pid(engine)
    kill(pg, first)
    with pytest.raises(OperationalError):
        backend_pid(engine)
    assert backend_pid(engine) != first
    engine.dispose()


def test_a_prebuilt_statement_meeting_a_closed_connection_fails_as_any_statement_does(
    pg: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prebuilt runs on the driver's cursor, kept with the connection: the failure must still be SQLAlchemy's
    # OperationalError, and the dead connection (with its cursor) thrown away, not handed to the next request.
    monkeypatch.setattr(storage.db, "PING_AFTER_IDLE_SECONDS", 3600.0)
    engine = make_engine(pg)
    whose = Prebuilt(select(func.pg_backend_pid()))
    with engine.connect() as conn:
        first = whose.execute(conn, {}).scalar_one()
    kill(pg, first)
    with engine.connect() as conn, pytest.raises(OperationalError):
        whose.execute(conn, {})
    with engine.connect() as conn:
        assert whose.execute(conn, {}).scalar_one() != first
    engine.dispose()
