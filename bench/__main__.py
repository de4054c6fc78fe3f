"""`python -m bench [name ...]`: run the benchmarks (all of them by default) and record them in bench/RESULTS.md.

By default each run builds its own service in a temp dir: SQLite and an embedded Redis. --database-url and
--redis-url point it at real servers instead; both must be disposable (the database is emptied, the Redis
database flushed), which is why DATABASE_URL and REDIS_URL from the environment are never used.

--smoke runs each benchmark at a tiny size (all of them in well under a minute) to show that it still runs end to
end: its figures mean nothing and nothing is written; the exit status is 1 if any benchmark failed. CI runs it
(`make bench-smoke`).
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace

from bench import compare, intake, learn, load, quality, results, scale, speed, upload
from bench.harness import BenchError, Options
from bench.results import Report

# Adding a benchmark: a module with `run(options) -> list[Report]` (one report per RESULTS.md section it owns), one
# line here, and a size for it under --smoke.
BENCHMARKS: dict[str, Callable[[Options], list[Report]]] = {
    "intake": intake.run,
    "load": load.run,
    "scale": scale.run,
    "quality": quality.run,
    "speed": speed.run,
    "learn": learn.run,
    "upload": upload.run,
    "compare": compare.run,
}


@dataclass(frozen=True)
class Sizes:
    """The sizes the command line may set: a full run's defaults, or --smoke's (each benchmark shrinks the rest of its
    sizes itself when `options.smoke` is set)."""

    messages: int
    warmup: int
    workers: int
    rates: str
    seconds: float
    tickets: tuple[int, ...]


FULL = Sizes(messages=200, warmup=20, workers=2, rates="20,50,100,200", seconds=10.0, tickets=(100_000,))
SMOKE = Sizes(messages=5, warmup=2, workers=1, rates="10", seconds=1.0, tickets=(1_000,))


def command_line(argv: list[str]) -> str:
    """How this run was started, for RESULTS.md: `make bench` when make ran it bare."""
    if not argv and os.environ.get("MAKELEVEL"):
        return "make bench"
    return " ".join([".venv/bin/python -m bench", *map(shlex.quote, argv)])


def parse(argv: list[str]) -> tuple[list[str], Options, bool]:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", metavar="name", help=f"benchmarks to run: {', '.join(BENCHMARKS)}")
    parser.add_argument("--database-url", help="a disposable database (name containing 'bench'); emptied first")
    parser.add_argument("--redis-url", help="a disposable Redis database; flushed before and after")
    parser.add_argument("--messages", type=int, help=f"measured messages per run (default {FULL.messages})")
    parser.add_argument("--warmup", type=int, help=f"warm-up messages per run, not counted (default {FULL.warmup})")
    parser.add_argument("--workers", type=int, help=f"gunicorn workers, app and floor alike (default {FULL.workers})")
    parser.add_argument("--rates", help=f"load: offered msg/s, comma-separated (default {FULL.rates})")
    parser.add_argument(
        "--seconds", type=float, help=f"load: seconds per rate and of saturation (default {FULL.seconds:g})"
    )
    parser.add_argument(
        "--tickets", type=int, nargs="+", help=f"scale: tickets per database (default {FULL.tickets[0]})"
    )
    parser.add_argument(
        "--part",
        action="append",
        choices=list(scale.PARTS),
        help="scale: run only this study (repeatable; default all): commands (supervisor commands at scale), "
        "sweep (the ticket sweep), grids (a complaint with a city's grid list), import (importing a city's "
        "organisation tree and grids)",
    )
    parser.add_argument(
        "--holdout",
        action="store_true",
        help="quality: also score the real data's held-out fifth; once, when tuning is done (bench/real.py)",
    )
    parser.add_argument(
        "--against",
        help=f"compare: the git revision served beside this tree (default {compare.BEFORE_COST_WORK}, before issue "
        "17's cost work)",
    )
    parser.add_argument(
        "--wecom-limits",
        action="store_true",
        help="load: keep WeCom's per-chat limits (30 a minute) in the stand-in and the gateway; no saturation passes",
    )
    parser.add_argument("--no-write", action="store_true", help="print the results only; leave RESULTS.md alone")
    parser.add_argument(
        "--smoke", action="store_true", help="every size tiny, nothing written, exit 1 on any failure (CI)"
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    if args.part and args.names and "scale" not in args.names:
        parser.error("--part chooses among the scale benchmark's studies: name scale too, or no benchmark")
    names = args.names or (["scale"] if args.part else list(BENCHMARKS))
    given = {key: value for key, value in vars(args).items() if key in Sizes.__dataclass_fields__ and value is not None}
    sizes = replace(SMOKE if args.smoke else FULL, **given)
    if not 2 <= sizes.messages <= 100_000 or not 0 <= sizes.warmup <= 10_000 or not 1 <= sizes.workers <= 64:
        parser.error("--messages must be 2..100000, --warmup 0..10000, --workers 1..64")
    try:
        rates = tuple(int(r) for r in sizes.rates.split(","))
    except ValueError:
        rates = ()
    if not rates or not all(1 <= r <= 100_000 for r in rates) or not 1 <= sizes.seconds <= 600:
        parser.error("--rates must be positive integers (e.g. 20,50,100,200), --seconds 1..600")
    if not all(1_000 <= n <= 10_000_000 for n in sizes.tickets):
        parser.error("--tickets must be 1000..10000000")
    options = Options(
        database_url=args.database_url,
        redis_url=args.redis_url,
        messages=sizes.messages,
        warmup=sizes.warmup,
        workers=sizes.workers,
        rates=rates,
        seconds=sizes.seconds,
        tickets=tuple(sizes.tickets),
        parts=tuple(dict.fromkeys(args.part or ())),
        smoke=args.smoke,
        holdout=args.holdout,
        against=args.against,
        wecom_limits=args.wecom_limits,
        command=command_line(argv),
    )
    return names, options, not (args.no_write or args.smoke)


def main(argv: list[str]) -> int:
    names, options, write = parse(argv)
    # A plain SIGTERM would skip the finally blocks and orphan the servers; unwind as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if options.smoke:
        return smoke(names, options)
    code = 0
    for name in names:
        try:
            reports = BENCHMARKS[name](options)
        except BenchError as failure:
            print(f"{name}: {failure}", file=sys.stderr)
            return 2
        for report in reports:
            print(f"## {report.section}\n\n### {report.block_title}\n\n{report.block}\n")
            if not report.valid:
                print(f"{name}: requests failed, results not written:", *report.errors, sep="\n  ", file=sys.stderr)
                code = 1
            elif write:
                results.write(report)
                print(f"written to {results.RESULTS}", file=sys.stderr)
    return code


def smoke(names: list[str], options: Options) -> int:
    """Every benchmark at its smoke size, each whatever became of the ones before; a line each, then the verdict."""
    failed: list[str] = []
    started = time.perf_counter()
    for name in names:
        began = time.perf_counter()
        try:
            reports = BENCHMARKS[name](options)
        except Exception:  # a benchmark that cannot run is what the smoke run is for: report it, try the rest
            traceback.print_exc()
            failed.append(name)
            print(f"smoke: {name} FAILED ({time.perf_counter() - began:.1f} s)", file=sys.stderr)
            continue
        for report in reports:
            if not report.valid:
                failed.append(f"{name} ({report.section})")
                print(f"smoke: {name}, {report.section}: invalid:", *report.errors, sep="\n  ", file=sys.stderr)
        sections = "; ".join(f"{r.section} ({r.block_title})" for r in reports)
        print(f"smoke: {name} ran in {time.perf_counter() - began:.1f} s: {sections}", file=sys.stderr)
    elapsed = time.perf_counter() - started
    if failed:
        print(f"smoke: {len(failed)} failed in {elapsed:.0f} s: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"smoke: {len(names)} benchmarks ran in {elapsed:.0f} s (nothing written)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
