"""`python -m bench [name ...]`: run the benchmarks (all of them by default) and record them in bench/RESULTS.md.

By default each run builds its own service in a temp dir: SQLite and an embedded Redis. --database-url and
--redis-url point it at real servers instead; both must be disposable (the database is emptied, the Redis
database flushed), which is why DATABASE_URL and REDIS_URL from the environment are never used.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
from collections.abc import Callable

from bench import grids, intake, learn, load, quality, results, scale, speed, sweep
from bench.harness import BenchError, Options
from bench.results import Report

# Adding a benchmark: a module with `run(options) -> Report`, and one line here.
BENCHMARKS: dict[str, Callable[[Options], Report]] = {
    "intake": intake.run,
    "load": load.run,
    "sweep": sweep.run,
    "scale": scale.run,
    "grids": grids.run,
    "quality": quality.run,
    "speed": speed.run,
    "learn": learn.run,
}


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
    parser.add_argument("--messages", type=int, default=200, help="measured messages per run (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up messages per run, not counted (default 20)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers, app and floor alike (default 2)")
    parser.add_argument("--rates", default="20,50,100,200", help="load: offered msg/s, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="load: seconds per rate and of saturation")
    parser.add_argument("--tickets", type=int, nargs="+", default=[100_000], help="scale: tickets per database")
    parser.add_argument("--no-write", action="store_true", help="print the results only; leave RESULTS.md alone")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    if not 2 <= args.messages <= 100_000 or not 0 <= args.warmup <= 10_000 or not 1 <= args.workers <= 64:
        parser.error("--messages must be 2..100000, --warmup 0..10000, --workers 1..64")
    try:
        rates = tuple(int(r) for r in args.rates.split(","))
    except ValueError:
        rates = ()
    if not rates or not all(1 <= r <= 100_000 for r in rates) or not 1 <= args.seconds <= 600:
        parser.error("--rates must be positive integers (e.g. 20,50,100,200), --seconds 1..600")
    if not all(1_000 <= n <= 10_000_000 for n in args.tickets):
        parser.error("--tickets must be 1000..10000000")
    options = Options(
        database_url=args.database_url,
        redis_url=args.redis_url,
        messages=args.messages,
        warmup=args.warmup,
        workers=args.workers,
        rates=rates,
        seconds=args.seconds,
        tickets=tuple(args.tickets),
        command=command_line(argv),
    )
    return args.names or list(BENCHMARKS), options, not args.no_write


def main(argv: list[str]) -> int:
    names, options, write = parse(argv)
    # A plain SIGTERM would skip the finally blocks and orphan the servers; unwind as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    code = 0
    for name in names:
        try:
            report = BENCHMARKS[name](options)
        except BenchError as failure:
            print(f"{name}: {failure}", file=sys.stderr)
            return 2
        print(f"## {report.section}\n\n### {report.block_title}\n\n{report.block}\n")
        if not report.valid:
            print(f"{name}: requests failed, results not written:", *report.errors, sep="\n  ", file=sys.stderr)
            code = 1
        elif write:
            results.write(report)
            print(f"written to {results.RESULTS}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
