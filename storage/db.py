"""Engine and session: SQLite (WAL) by default, PostgreSQL through DATABASE_URL."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import ARRAY, ColumnElement, Integer, any_, bindparam, event, inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import instrumentation, make_transient_to_detached
from sqlmodel import Session, col, create_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The largest id a row can have: PostgreSQL's integer. A number past it names no row, and must be refused as such
# before it reaches a query (SQLite cannot even bind it; PostgreSQL answers "integer out of range").
MAX_ID = 2_147_483_647
# A PostgreSQL connection that has sat in the pool this long is pinged before use: a restart, an idle timeout or a
# failover may have closed it. One checked in more recently is not: under load every checkout is such a one, and a
# ping is a round trip (70-110 µs of our CPU, and the server's, on every request and every gateway pass). If the
# server went away within that second, the statement fails as it would have mid-request (intake answers 503 and
# WeChat retries), SQLAlchemy drops the whole pool, and the next checkout connects afresh.
PING_AFTER_IDLE_SECONDS = 1.0
_IDLE_SINCE = "wgt_idle_since"
M = TypeVar("M")


def make_engine(url: str) -> Engine:
    """Build the engine; SQLite gets WAL and BEGIN IMMEDIATE so concurrent writers queue instead of failing."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not url.startswith("sqlite"):
        return _ping_when_idle(create_engine(url, pool_size=5, max_overflow=10))

    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite's own transaction handling defers BEGIN and would upgrade a read lock to a write lock
        # mid-transaction (SQLITE_BUSY under concurrency); we issue BEGIN IMMEDIATE ourselves instead.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=15000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the write lock up front; readers stay in autocommit, so each statement sees the newest
        # committed data (like PostgreSQL's READ COMMITTED) and a reader never blocks a writer.
        if conn.get_execution_options().get(WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _ping_when_idle(engine: Engine) -> Engine:
    """SQLAlchemy's pre-ping (its own ping, and a fresh connection when it fails), for connections that have been
    idle at least PING_AFTER_IDLE_SECONDS."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as error:
            # the pool throws this connection away and checks out another (a new one), up to three times
            raise DisconnectionError(f"connection idle since a restart? ping failed: {error}") from error

    return engine


WRITE_OPTION = "wgt_write"
# session.info keys that hold what one transaction read (the organisation's token, the sender's counts, the units'
# bots): forgotten when it commits or rolls back, so that the session's next transaction reads them afresh.
_PER_TRANSACTION: set[str] = set()


def in_list(column: Any, name: str, postgres: bool) -> ColumnElement[bool]:
    """column IN the list of integers bound as `name`. On PostgreSQL, = ANY(one array parameter): the same statement at
    every run, prepared by psycopg. Elsewhere an expanding IN (SQLite has no arrays), which SQLAlchemy renders again
    for the list's length at every run; on PostgreSQL that rendering writes a cast for each element, and it was 7 %
    of the gateway's CPU under load (py-spy, bench load at 50 msg/s)."""
    if postgres:
        return col(column) == any_(bindparam(name, type_=ARRAY(Integer)))
    return col(column).in_(bindparam(name, expanding=True))


def is_postgres(session: OrmSession) -> bool:
    return session.connection().dialect.name == "postgresql"


def attached(session: OrmSession, model: type[M], values: dict[str, Any]) -> M:
    """All of `model`'s columns (a row's `_asdict()`) as the session's persistent object, as the ORM loads one: the
    object the session already holds for that key, else a new one in its identity map, whose later changes are
    UPDATEs at the next flush. Without the ORM's query machinery: the sender's read cost 140 µs, now 104."""
    mapper = inspect(model)
    key = mapper.identity_key_from_primary_key([values[column.key] for column in mapper.primary_key])
    found = session.identity_map.get(key)
    if found is not None:
        return found  # type: ignore[no-any-return]
    made: M = instrumentation.manager_of_class(model).new_instance()
    made.__dict__.update(values)
    object.__setattr__(made, "__pydantic_fields_set__", set(values))
    make_transient_to_detached(made)
    session.add(made)
    return made


class Prebuilt:
    """A Core statement run on the driver's own cursor: the hot statements of a complaint.

    SQLAlchemy compiles it, once per dialect and set of keys, into the SQL text, the bind processors it would apply
    itself (a bound constant, such as a status in the WHERE clause, is converted then) and the result processors of
    what it returns (a time on SQLite); each run converts the values with those, runs the text on a cursor kept with
    the DBAPI connection and reads every row at once (`Rows`). This skips SQLAlchemy's per-execution work: building
    the parameters from the statement's binds, reading the column defaults, an execution context and a result with
    its metadata. Measured: on SQLite a 13-column INSERT fell from 17 to 6 µs; on PostgreSQL a statement costs
    about 100 µs of CPU less than `exec_driver_sql`, and the web CPU per complaint fell by 7 %. The statement is in
    the connection's transaction (begun first if it is not), and its errors are SQLAlchemy's, a lost connection
    invalidated as SQLAlchemy does. When someone listens for statements (`before_cursor_execute`, a test counting
    them, the engine's echo log), it runs through `exec_driver_sql` instead, so they see it. Refused at the first
    run: an INSERT or UPDATE that leaves out a column with a default (it would not be filled in), and a statement
    missing a value it needs.
    """

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._built: dict[tuple[type, tuple[str, ...]], _Built] = {}

    def execute(self, connection: Connection, values: dict[str, Any] | list[dict[str, Any]]) -> Rows:
        rows = values if isinstance(values, list) else [values]
        dialect = connection.dialect
        keys = tuple(rows[0])
        if any(row.keys() != rows[0].keys() for row in rows[1:]):
            raise ValueError("Prebuilt: every row must name the same columns")
        built = self._built.get((type(dialect), keys)) or self._build(dialect, keys)
        converted = (
            (
                fixed if key is None else row[key] if process is None else process(row[key])
                for key, process, fixed in built.binds
            )
            for row in rows
        )
        names = built.names
        params = [tuple(given) if names is None else dict(zip(names, given, strict=True)) for given in converted]
        if (
            connection.dispatch.before_cursor_execute
            or connection.dispatch.after_cursor_execute
            or _LOG.isEnabledFor(logging.INFO)
        ):  # someone watches the statements (a test counting them, echo): SQLAlchemy's path, which tells them
            result = connection.exec_driver_sql(built.sql, params[0] if len(params) == 1 else params)
            return Rows(built.columns, result.all() if result.returns_rows else (), built.readers)
        return _run(connection, built, params)

    def _build(self, dialect: Any, keys: tuple[str, ...]) -> _Built:
        compiled = self.statement.compile(dialect=dialect, column_keys=list(keys))
        if compiled.insert_prefetch or compiled.update_prefetch:
            missing = [c.key for c in (*compiled.insert_prefetch, *compiled.update_prefetch)]
            raise ValueError(f"Prebuilt statement left out columns that have defaults: {missing}")
        returned = tuple(getattr(self.statement, "exported_columns", ()))
        readers = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in returned)
        binds: list[tuple[str | None, Any, Any]] = []
        names = compiled.positiontup if compiled.positional else list(dict.fromkeys(compiled.bind_names.values()))
        for name in names:
            bind = compiled.binds[name]
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if name in keys:
                binds.append((name, process, None))
            elif bind.required:
                raise ValueError(f"Prebuilt statement needs a value for {name!r}")
            else:  # a constant of the statement
                constant = bind.effective_value
                binds.append((None, None, constant if process is None else process(constant)))
        built = _Built(
            str(compiled),
            tuple(binds),
            None if compiled.positional else tuple(names),
            tuple(column.key for column in returned),
            readers if any(readers) else None,
        )
        self._built[(type(dialect), keys)] = built
        return built


class _Built(NamedTuple):
    sql: str
    # each parameter in order: the key of its value (None for a constant), the converter, the constant
    binds: tuple[tuple[str | None, Any, Any], ...]
    # the parameters' names where the driver takes them by name (psycopg's %(name)s); None where by position
    names: tuple[str, ...] | None
    # the names of the columns it returns, and how SQLAlchemy converts each on reading (None: none needs it)
    columns: tuple[str, ...]
    readers: tuple[Any, ...] | None


class Rows(list[Any]):
    """A statement's rows, all read at once (a hot statement returns a handful) and converted as SQLAlchemy converts
    them; read as a SQLAlchemy result is (`first`, `scalar_one`, `all`). `columns` names the values of a row."""

    def __init__(self, columns: tuple[str, ...], rows: Iterable[Any], readers: tuple[Any, ...] | None) -> None:
        if readers is not None:
            rows = (
                tuple(value if read is None else read(value) for read, value in zip(readers, row, strict=True))
                for row in rows
            )
        super().__init__(rows)
        self.columns = columns

    def first(self) -> Any:
        return self[0] if self else None

    def scalar_one(self) -> Any:
        if len(self) != 1:
            raise ValueError(f"expected one row, got {len(self)}")
        return self[0][0]

    def all(self) -> list[Any]:
        return list(self)


def _run(connection: Connection, built: _Built, params: list[Any]) -> Rows:
    """The statement on the driver's cursor, in the connection's transaction. SQLAlchemy's execution around it (an
    execution context, a result object and its metadata, per statement) cost PostgreSQL's driver path about 100 µs a
    statement, as much as psycopg itself. Errors still go through SQLAlchemy: wrapped in its DBAPIError, and a lost
    connection invalidated as it would invalidate it (with the pool's older connections)."""
    if not connection.in_transaction():
        connection.begin()  # as SQLAlchemy's own execution would (its autobegin): SQLite's BEGIN IMMEDIATE, say
    proxied = connection.connection
    dbapi = proxied.dbapi_connection
    kept = proxied.info.get(_CURSOR)
    if kept is None or kept[0] is not dbapi:  # the record may hold a new DBAPI connection after a reconnect
        kept = proxied.info[_CURSOR] = (dbapi, dbapi.cursor())  # type: ignore[union-attr]
    cursor = kept[1]
    try:
        if len(params) == 1:
            cursor.execute(built.sql, params[0])
        else:
            cursor.executemany(built.sql, params)
        return Rows(built.columns, cursor.fetchall() if cursor.description is not None else (), built.readers)
    except Exception as error:
        proxied.info.pop(_CURSOR, None)  # SQLAlchemy closes a failed statement's cursor
        # SQLAlchemy's own handler (a private method; tests/storage/test_reconnect.py and test_prebuilt.py hold it to
        # what it does: the error wrapped, a lost connection and the pool's older ones invalidated)
        connection._handle_dbapi_exception(error, built.sql, params[0] if len(params) == 1 else params, cursor, None)


_CURSOR = "wgt_prebuilt_cursor"
_LOG = logging.getLogger("sqlalchemy.engine.Engine")


def per_transaction(key: str) -> str:
    """Register a session.info key as holding what one transaction read; returns the key."""
    _PER_TRANSACTION.add(key)
    return key


@event.listens_for(OrmSession, "after_commit")
@event.listens_for(OrmSession, "after_rollback")
def _forget_per_transaction(session: OrmSession) -> None:
    for key in _PER_TRANSACTION:
        session.info.pop(key, None)


def writer(engine: Engine) -> Engine:
    """The same engine and pool, marked so SQLite transactions on it begin with the write lock; made once per engine
    (every transaction asks, and each call would build a new option engine)."""
    made: Engine | None = engine.__dict__.get(_WRITER)
    if made is None:
        # Kept on the engine itself: a cache beside it would keep every engine (and its pool) alive.
        made = engine.__dict__[_WRITER] = engine.execution_options(**{WRITE_OPTION: True})
    return made


_WRITER = "_wgt_writer"


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on any exception."""
    with Session(writer(engine), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with writer(engine).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
