"""Web CPU per complaint, this tree against an earlier commit of it, in the same run.

Issue 17 asks for a web tier at 40 % of the CPU a complaint cost before the cost work (commit 0a91351). This host's
speed moves by up to 2x within an hour, so runs one after the other do not compare; this benchmark serves both
trees at once and hands them the same complaints in turn.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from redis.connection import parse_url
from sqlalchemy import create_engine, make_url, text

from bench import harness
from bench.harness import ROOT, BenchError, Options, progress
from bench.intake import TICKET_REPLY, floor_ok
from bench.results import Report
from config import DEV_WECHAT_AES_KEY, DEV_WECHAT_APPID, DEV_WECHAT_TOKEN
from demo.complaints import buildings, complaints, residents
from simulator.officialaccount import OfficialAccount

SECTION = "Web CPU per complaint against an earlier commit"
# The commit issue 17 measured "today's" cost on, before any of the cost work.
BEFORE_COST_WORK = "0a91351"
TARGET_RATIO = 0.40
# What a served tree is told: an AI bot is configured, so a complaint's group push is one PUBLISH (as in `make run`).
BOT = {"WECOM_BOT_ID": "bench-bot", "WECOM_BOT_SECRET": "bench-secret"}
SERVE_TIMEOUT = 600.0
XML = {"Content-Type": "text/xml"}
# Complaints a server gets back to back before the next server gets the same ones: long enough for its caches to be
# warm (at a city's peak a worker answers one request after another), short enough that the host's speed cannot
# drift between the servers' turns.
BURST = 50
LINKED_REPLY = re.compile(r"（工单 \d+），已为您关联")

INTRO = f"""What issue 17 asks: the web tier's CPU per complaint at most {TARGET_RATIO:.0%} of what it was before the
cost work (commit {BEFORE_COST_WORK}), on both backends, beside the bare signature check.

`python -m bench compare [--against REV]` checks the earlier commit out in a git worktree and copies this tree's
`bench/` and `demo/complaints.py` into it, so both trees are seeded and served by the same benchmark code while
each runs its own app, migrations and CLI. Three gunicorns, one sync worker each, run at once: the floor
(`bench/floor.py`), this tree's app and the earlier one's, each on its own database and Redis (with
`--database-url`, the earlier tree gets a database of the same name with `_baseline` added, created if missing;
with `--redis-url`, the next database number), each with the demo district and its 430 bound residents
(`seed-demo`, `import-people`) and an AI bot configured (a group push is one PUBLISH, as with `make run`).

One client then sends the complaints in bursts of {BURST}, in safe mode (AES), each a new problem with a fresh
signature: a burst to the floor, the same {BURST} to this tree, the same to the earlier one, then the next burst.
Within a burst a server answers one request after another, warm, as a worker does at a city's peak (when its CPU
is what the city pays for); the servers take turns every burst, so a drift in the host's speed falls on all three
alike. Each server's CPU (master and worker, utime + stime from /proc) during its own bursts, per complaint.
Answering turn by turn instead (one complaint to each server in turn) put every request after the others', with cold
caches: the floor's 0.43 ms became 0.9 to 1.0, this tree's 3.6 became 4.9 and 0a91351's 7.5 became 8.3, which
flattens the ratios."""


@dataclass(frozen=True)
class Served:
    """A gunicorn started by `python -m bench.compare serve` in some tree."""

    name: str
    port: int
    pid: int


def run(options: Options) -> list[Report]:
    against = options.against or BEFORE_COST_WORK
    commit = git("rev-parse", "--verify", f"{against}^{{commit}}").strip()
    with tempfile.TemporaryDirectory(prefix="wgt-compare-") as tmp_name, ExitStack() as stack:
        tmp = Path(tmp_name)
        earlier = stack.enter_context(worktree(commit, tmp / "earlier"))
        database, redis = options.database_url, options.redis_url
        earlier_database = baseline_database(database) if database else None
        earlier_redis = next_redis_database(redis) if redis else None
        progress(f"compare: serving the floor, this tree and {commit[:7]} (seeding each; about a minute)")
        started = [
            stack.enter_context(serve(ROOT, tmp / "floor", "bench.floor:create_app()", None, None)),
            stack.enter_context(serve(ROOT, tmp / "this", "app:create_app()", database, redis)),
            stack.enter_context(
                serve(earlier, tmp / "earlier-app", "app:create_app()", earlier_database, earlier_redis)
            ),
        ]
        floor, this, before = (wait_served(info, proc, name) for (info, proc), name in zip(started, NAMES, strict=True))
        cpu, linked, errors = drive([floor, this, before], options)
    variant = "PostgreSQL + Redis server" if database else "SQLite + embedded Redis"
    return [report(options, commit, variant, cpu, linked, errors)]


NAMES = ("floor (signature check only)", "this tree", "earlier commit")


def git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as failure:
        raise BenchError(f"git {' '.join(args)} failed: {getattr(failure, 'stderr', '') or failure}") from None
    return done.stdout


@contextmanager
def worktree(commit: str, path: Path) -> Iterator[Path]:
    """The commit checked out beside this tree, with this tree's benchmark code in it; removed on exit."""
    git("worktree", "prune")  # what an interrupted run left behind
    git("worktree", "add", "--detach", "--force", str(path), commit)
    try:
        shutil.rmtree(path / "bench", ignore_errors=True)
        shutil.copytree(ROOT / "bench", path / "bench", ignore=shutil.ignore_patterns("__pycache__", "RESULTS.md"))
        shutil.copy2(ROOT / "demo" / "complaints.py", path / "demo" / "complaints.py")
        yield path
    finally:
        git("worktree", "remove", "--force", str(path))


def baseline_database(url: str) -> str:
    """A database beside `url`'s, its name with `_baseline` added, created if it does not exist."""
    parsed = make_url(url)
    name = f"{parsed.database}_baseline"
    server = create_engine(
        parsed.set(drivername="postgresql+psycopg", database="postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        with server.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        server.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


def next_redis_database(url: str) -> str:
    """The same Redis server, the next database number (wrapping at 16)."""
    number = int(parse_url(url).get("db", 0))
    return urlsplit(url)._replace(path=f"/{(number + 1) % 16}", query="").geturl()


@contextmanager
def serve(
    tree: Path, info: Path, spec: str, database: str | None, redis: str | None
) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    """`python -m bench.compare serve` in `tree`: it seeds its own service and writes "port pid" to `info`."""
    command = [sys.executable, "-m", "bench.compare", "serve", str(info), spec, database or "", redis or ""]
    log = info.with_suffix(".log")
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=tree, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield info, proc
    finally:
        harness.stop(proc)


def wait_served(info: Path, proc: subprocess.Popen[bytes], name: str) -> Served:
    deadline = time.monotonic() + SERVE_TIMEOUT
    while not info.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = info.with_suffix(".log").read_text(errors="replace")[-3000:]
            raise BenchError(f"{name} did not start:\n{tail}")
        time.sleep(0.2)
    port, pid = map(int, info.read_text().split())
    return Served(name, port, pid)


def drive(servers: list[Served], options: Options) -> tuple[list[float], Counter[str], list[str]]:
    """Warm up, then the complaints to every server in bursts: CPU ms per complaint of each, how many complaints each
    app linked to an open ticket instead of opening one, and what went wrong."""
    oa = OfficialAccount(token=DEV_WECHAT_TOKEN, aes_key=DEV_WECHAT_AES_KEY, appid=DEV_WECHAT_APPID)
    places = buildings()
    pool = iter(complaints(places, residents(places)))
    errors: list[str] = []
    linked: Counter[str] = Counter()

    def check(server: Served, status: int, reply: bytes) -> None:
        if server.name == NAMES[0]:
            if problem := floor_ok(status, reply):
                errors.append(f"{server.name}: {problem}")
            return
        try:
            content = oa.open_reply(reply.decode(), safe=True).get("Content", "") if status == 200 else ""
        except Exception as failure:  # any way the reply fails to parse, verify or decrypt is an error to count
            content = f"unreadable reply ({type(failure).__name__})"
        if TICKET_REPLY.search(content):
            return
        if LINKED_REPLY.search(content):
            linked[server.name] += 1  # the complaint met an open ticket its duplicate search took it for
            return
        errors.append(f"{server.name}: HTTP {status}: no ticket number in {content or reply[:200]!r}")

    def bursts(count: int, cpu: list[float] | None) -> None:
        """`count` complaints to each server, a burst of BURST to one server, then the same ones to the next."""
        for start in range(0, count, BURST):
            burst = [next(pool) for _ in range(min(BURST, count - start))]
            signed = [oa.signed(oa.text(c.openid, c.text), safe=True) for c in burst]
            for n, server in enumerate(servers):
                used = harness.tree_cpu(server.pid)
                for query, body in signed:
                    check(server, *harness.post(server.port, f"/wechat?{query}", body, XML))
                if cpu is not None:
                    cpu[n] += harness.tree_cpu(server.pid) - used

    progress(f"compare: {options.warmup} warm-up complaints, then {options.messages} to each server in bursts")
    bursts(options.warmup, None)
    cpu = [0.0] * len(servers)
    bursts(options.messages, cpu)
    return [used / options.messages * 1000 for used in cpu], linked, errors


def report(
    options: Options, commit: str, variant: str, cpu: list[float], linked: Counter[str], errors: list[str]
) -> Report:
    floor, this, before = cpu
    ratio = this / before if before > 0 else float("nan")
    lines = [
        *harness.provenance(options, machine_note=f"{variant}; earlier commit {commit[:7]}"),
        f"- Messages: {options.messages} complaints to each server, after {options.warmup} warm-up ones",
        "",
    ]
    if commit.startswith(BEFORE_COST_WORK):
        verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
        lines += [f"- this tree ÷ {BEFORE_COST_WORK} ≤ {TARGET_RATIO:.2f}: **{verdict}** ({ratio:.2f})", ""]
    lines += [
        "| server | CPU ms per complaint | ÷ floor | ÷ earlier commit |",
        "|---|--:|--:|--:|",
        f"| {NAMES[0]} | {floor:.2f} | 1 | - |",
        f"| {NAMES[1]} | {this:.2f} | {times(this, floor)} | **{ratio:.2f}** |",
        f"| {NAMES[2]} ({commit[:7]}) | {before:.2f} | {times(before, floor)} | 1 |",
    ]
    if linked:
        told = ", ".join(f"{name} {n}" for name, n in linked.items())
        lines += ["", f"Complaints linked to an open ticket instead of opening one (a cheaper path): {told}."]
    if errors:
        lines += ["", f"{len(errors)} replies were wrong, the first: {errors[0]}"]
    return Report(SECTION, INTRO, variant, "\n".join(lines), valid=not errors, errors=errors[:10])


def times(cost: float, floor: float) -> str:
    """How many floors; "-" when the floor's CPU was too little to read (a smoke run's few messages)."""
    return f"{cost / floor:.1f}x" if floor > 0 else "-"


def serve_main(info: str, spec: str, database: str, redis: str) -> None:
    """In a tree: its own service (the demo and its residents, unless it is the floor), one gunicorn worker, until
    told to stop (SIGTERM, which unwinds so that the gunicorn and an embedded Redis stop too)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    options = Options(database_url=database or None, redis_url=redis or None, workers=1)
    with harness.environment(options) as env:
        if not spec.startswith("bench.floor"):
            harness.demo_with_residents(env)
        env.env.update(BOT)
        with harness.gunicorn(env, spec, Path(info).stem, 1) as server:
            written = Path(f"{info}.part")
            written.write_text(f"{server.port} {server.proc.pid}")
            written.rename(info)  # whole, or not there yet
            deadline = time.monotonic() + 4 * 3600  # an abandoned server does not outlive its run by much
            while time.monotonic() < deadline and os.getppid() != 1:
                time.sleep(0.5)


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "serve":
        serve_main(*sys.argv[2:])
    else:
        sys.exit("usage: python -m bench.compare serve INFO APP_SPEC DATABASE_URL REDIS_URL (bench compare runs it)")
