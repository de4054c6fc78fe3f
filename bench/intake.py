"""Intake latency: a bound resident's complaint in, a passive reply naming a ticket number and category out.

The issue's target: with grids and people imported by the CLI, a signed complaint from a bound resident
("幸福小区3栋2单元楼道灯坏了…") gets its reply with p99 under 100 ms over 200 sequential messages. Measured
through the real gunicorn, beside a floor app (bench/floor.py) on the same gunicorn that only checks the signature.
"""

from __future__ import annotations

import http.client
import re
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from statistics import fmean

from bench import harness
from bench.harness import BenchError, Environment, Memory, Options, Server, progress
from bench.results import Report
from bench.stats import Run
from config import DEV_WECHAT_AES_KEY, DEV_WECHAT_APPID, DEV_WECHAT_TOKEN
from simulator.officialaccount import OfficialAccount

SECTION = "Intake latency (sequential)"
TARGET_P99_MS = 100.0
TARGET_WORKER_RSS_MB = 150.0
TICKET_REPLY = re.compile(r"工单号 \d+（[^）]+）")
# Each worker builds its classifier (jieba + dictionaries) on its first complaint: warm until all have answered.
WARM_PER_WORKER = 3
WARM_BURSTS = 50

Make = Callable[[], tuple[str, bytes]]
Check = Callable[[int, bytes], str | None]

INTRO = f"""What the issue asks: with grids and people imported by the CLI (`flask --app app seed-demo`, then
430 residents bound to the demo's buildings), a signed complaint from a bound resident gets a passive reply
naming a ticket number and a category, **p99 under {TARGET_P99_MS:.0f} ms over 200 sequential messages**.
Every message is a new problem (one building x unit x fault of `demo/complaints.py`, such as
"幸福小区3栋2单元楼道灯坏了好几天了"), with a fresh signature and MsgId, so each one classifies, looks for
a like open ticket, routes and assigns a ticket, writes its event log and outbox rows, commits, and enqueues the
group push (no rq worker runs, so delivery is not measured).

One client sends the messages one after another with `http.client`, timing each from request to the last byte
of the answer (`time.perf_counter`); signing and encrypting happen before the clock starts, checking the reply
after it stops. Every reply is checked: HTTP 200, a valid (in safe mode: signed and decryptable) passive reply
whose text matches `工单号 <n>（<category>）`. gunicorn's sync workers close the connection after each answer,
so every message also pays a loopback TCP connect, as it does from WeChat's servers.

The floor is `bench/floor.py` on the same gunicorn with the same worker count: read the body, check the sha1
signature with `hmac.compare_digest`, answer `success`. "÷ floor" is the app's latency over the floor's in the
same run. "in-worker" is gunicorn's own timer from its access log (`%(D)s`: parsed headers to last byte written),
without the client and the TCP connect; with few CPUs a worker can be descheduled before it stops that clock, so
at the tail it may exceed the client's figure. "server CPU ms/msg" is the CPU time of that gunicorn (master and
workers, utime + stime from /proc) over the measured messages, per message: one request at a time, so it is what a
complaint costs the web tier without the wake-ups an open-loop rate adds (bench load), beside the floor's. No AI bot
is configured here, so each complaint's group push is handed to rq as a job (with an AI bot, as `make run` has, it
is one PUBLISH to the gateway instead).

After the runs each web worker's memory is read from /proc, the app's beside the floor's (issue 17 asks for a
worker RSS of at most 150 MB)."""


def run(options: Options) -> list[Report]:
    oa = OfficialAccount(token=DEV_WECHAT_TOKEN, aes_key=DEV_WECHAT_AES_KEY, appid=DEV_WECHAT_APPID)
    with harness.environment(options) as env:
        pool = harness.demo_with_residents(env)

        def complaint(safe: bool) -> tuple[str, bytes]:
            c = next(pool)
            return oa.signed(oa.text(c.openid, c.text), safe=safe)

        with (
            harness.gunicorn(env, "app:create_app()", "app", options.workers) as app,
            harness.gunicorn(env, "bench.floor:create_app()", "floor", options.workers) as floor,
        ):
            runs = [
                drive(floor, "floor (signature check only)", lambda: complaint(False), floor_ok, options),
                drive(app, "app, plaintext", lambda: complaint(False), ticket_ok(oa, False), options),
                drive(app, "app, safe mode (AES)", lambda: complaint(True), ticket_ok(oa, True), options),
            ]
            memory = {"app": app.worker_memory(), "floor": floor.worker_memory()}
        return [report(env, options, runs, memory)]


def post(conn: http.client.HTTPConnection, query: str, body: bytes) -> tuple[int, bytes]:
    conn.request("POST", f"/wechat?{query}", body=body, headers={"Content-Type": "text/xml"})
    response = conn.getresponse()
    return response.status, response.read()


def drive(server: Server, name: str, make: Make, check: Check, options: Options) -> Run:
    """Warm the server up, then send `options.messages` messages one at a time and time each."""
    progress(f"{name}: warming up, then {options.messages} messages")
    result = Run(name)
    conn = server.connection()
    try:
        warmup = warm_up(server, conn, make, check, options)
        result.warmup, result.warmup_max_ms = len(warmup.seconds), warmup.max_ms
        before = len(server.accesses())
        replies: list[tuple[int, bytes]] = []
        cpu_before = harness.tree_cpu(server.proc.pid)
        started = time.perf_counter()
        for _ in range(options.messages):
            query, body = make()
            t0 = time.perf_counter()
            try:
                replies.append(post(conn, query, body))
            except (OSError, http.client.HTTPException) as exc:
                replies.append((0, f"{type(exc).__name__}: {exc}".encode()))
                conn.close()
            result.seconds.append(time.perf_counter() - t0)
        result.wall = time.perf_counter() - started
        result.cpu = harness.tree_cpu(server.proc.pid) - cpu_before
    finally:
        conn.close()
    for number, (status, reply) in enumerate(replies, 1):
        if problem := check(status, reply):
            result.errors.append(f"message {number}: {problem}")
    logged = server.wait_logged(before + options.messages)[before:]
    result.server_micros = [a.micros for a in logged]
    result.workers_seen = len({a.pid for a in logged})
    return result


def warm_up(server: Server, conn: http.client.HTTPConnection, make: Make, check: Check, options: Options) -> Run:
    """The warm-up messages, then bursts of concurrent ones until every worker has answered a few.

    Sequential load lands mostly on one sync worker, so the others would meet their first complaint (which builds
    the classifier) in the middle of the measured messages; a burst of one message per worker reaches them all.
    """
    warmup = Run("warm-up")
    logged_before = len(server.accesses())

    def send(connection: http.client.HTTPConnection, message: tuple[str, bytes]) -> None:
        t0 = time.perf_counter()
        status, reply = post(connection, *message)
        warmup.seconds.append(time.perf_counter() - t0)
        if problem := check(status, reply):
            raise BenchError(f"{server.name}: warm-up message: {problem}\n{server.log_tail()}")

    for _ in range(options.warmup):
        send(conn, make())
    connections = [server.connection() for _ in range(options.workers)]
    try:
        with ThreadPoolExecutor(max_workers=options.workers) as pool:
            for _ in range(WARM_BURSTS):
                server.wait_logged(logged_before + len(warmup.seconds))
                if warm(server, options.workers):
                    break
                messages = [make() for _ in connections]  # made here: OfficialAccount's MsgId counter is not shared
                list(pool.map(send, connections, messages))
    finally:
        for connection in connections:
            connection.close()
    return warmup


def warm(server: Server, workers: int) -> bool:
    answered = Counter(a.pid for a in server.accesses())
    return len(answered) >= workers and min(answered.values()) >= WARM_PER_WORKER


def floor_ok(status: int, body: bytes) -> str | None:
    return None if status == 200 and body == b"success" else f"HTTP {status}: {body[:200]!r}"


def ticket_ok(oa: OfficialAccount, safe: bool) -> Check:
    """The reply WeChat would accept, naming a ticket number and a category."""

    def check(status: int, body: bytes) -> str | None:
        if status != 200:
            return f"HTTP {status}: {body[:200]!r}"
        try:
            content = oa.open_reply(body.decode(), safe=safe).get("Content", "")
        except Exception as exc:  # any way the reply fails to parse, verify or decrypt is an error to count
            return f"unreadable reply ({type(exc).__name__}: {exc}): {body[:200]!r}"
        return None if TICKET_REPLY.search(content) else f"no ticket number and category in {content!r}"

    return check


def report(env: Environment, options: Options, runs: list[Run], memory: dict[str, list[Memory]]) -> Report:
    floor, plain = runs[0], runs[1]
    target = "PASS" if plain.ms(99) < TARGET_P99_MS else "FAIL"
    header = (
        "| run | messages | errors | p50 ms | p95 ms | p99 ms | max ms | msg/s | p50 ÷ floor | p99 ÷ floor "
        f"| in-worker p50 / p99 ms | server CPU ms/msg | CPU ÷ floor | p99 < {TARGET_P99_MS:.0f} ms |\n"
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|:-:|"
    )
    rows = [header]
    for r in runs:
        is_floor = r is floor
        verdict = "-" if is_floor else ("pass" if r.ms(99) < TARGET_P99_MS else "**fail**")
        ratio50 = "1" if is_floor else f"{r.ms(50) / floor.ms(50):.1f}x"
        ratio99 = "1" if is_floor else f"{r.ms(99) / floor.ms(99):.1f}x"
        cpu_ratio = "1" if is_floor else (f"{r.cpu_ms / floor.cpu_ms:.1f}x" if floor.cpu_ms > 0 else "-")
        rows.append(
            f"| {r.name} | {len(r.seconds)} | {len(r.errors)} | {r.ms(50):.1f} | {r.ms(95):.1f} | {r.ms(99):.1f} "
            f"| {r.max_ms:.1f} | {r.throughput:.0f} | {ratio50} | {ratio99} "
            f"| {r.server_ms(50):.1f} / {r.server_ms(99):.1f} | {r.cpu_ms:.2f} | {cpu_ratio} | {verdict} |"
        )
    warmups = "; ".join(f"{r.name}: {r.warmup} (slowest {r.warmup_max_ms:.0f} ms)" for r in runs)
    spread = "; ".join(f"{r.name}: {r.workers_seen}" for r in runs)
    block = "\n".join(
        [
            *harness.provenance(options, env),
            f"- Servers: gunicorn {version('gunicorn')}, {options.workers} sync workers each, 127.0.0.1; "
            "app and floor both up for the whole run",
            f"- Warm-up messages, not counted ({options.warmup} one at a time, then bursts of one per worker until "
            f"each had answered {WARM_PER_WORKER}; a worker's first complaint builds the classifier): {warmups}",
            f"- Workers that answered the measured messages: {spread}",
            "",
            *rows,
            "",
            f"Target (p99 < {TARGET_P99_MS:.0f} ms, plaintext): **{target}** at {plain.ms(99):.1f} ms, "
            f"{plain.ms(99) / floor.ms(99):.1f}x the floor's p99.",
            "",
            *memory_lines(memory),
        ]
    )
    return Report(SECTION, INTRO, env.variant, block, valid=not any(r.errors for r in runs), errors=errors(runs))


def memory_lines(memory: dict[str, list[Memory]]) -> list[str]:
    """Each web worker's memory after the runs, the app's beside the floor's (the same gunicorn, preloading)."""
    app, floor = memory["app"], memory["floor"]
    if not app or not floor:
        return ["Worker memory: not read (no gunicorn workers found under /proc)."]
    rss, pss = fmean(m.rss_mb for m in app), fmean(m.pss_mb for m in app)
    floor_rss, floor_pss = fmean(m.rss_mb for m in floor), fmean(m.pss_mb for m in floor)
    verdict = "PASS" if max(m.rss_mb for m in app) <= TARGET_WORKER_RSS_MB else "FAIL"
    return [
        "| web worker after the runs (/proc/PID/smaps_rollup, mean of the workers) | RSS MB | PSS MB |",
        "|---|--:|--:|",
        f"| floor | {floor_rss:.0f} | {floor_pss:.0f} |",
        f"| app | {rss:.0f} | {pss:.0f} |",
        f"| app ÷ floor | {rss / floor_rss:.1f}x | {pss / floor_pss:.1f}x |",
        "",
        f"Target (issue 17: a web worker's RSS ≤ {TARGET_WORKER_RSS_MB:.0f} MB): **{verdict}** at "
        f"{max(m.rss_mb for m in app):.0f} MB (the largest worker). RSS counts in full the pages a worker shares "
        "with gunicorn's master (the app is preloaded before the fork); PSS is each worker's fair share of them.",
    ]


def errors(runs: list[Run]) -> list[str]:
    return [f"{r.name}: {e}" for r in runs for e in r.errors[:5]]
