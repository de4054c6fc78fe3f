"""Intake under load: open-loop offered rates and saturation, beside the floor, and each message's card end to end.

The issue's item: signed and encrypted Official Account messages with unique MsgIds, sent by a load generator on
loopback to the real gunicorn (workers = cores: `--workers`, 2 by default, as on the machine the committed figures
come from) and, in the same run, to the floor (bench/floor.py) on the same gunicorn settings; throughput and p50 /
p95 / p99 at fixed offered rates and at saturation, the ratio to the floor, and the time from a resident's message
to its card in the grid's WeCom group (the simulator's AI-bot stand-in).

The whole production shape runs: gunicorn (app and floor), one rq worker and the AI-bot gateway, against the
simulator, which runs in its own process (`python -m bench.load simulator`, driven over its stdin) so that its
threads take no CPU time from the generator's event loop.
"""

from __future__ import annotations

import asyncio
import csv
import itertools
import json
import os
import re
import select
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from importlib.metadata import version
from pathlib import Path

from bench import harness
from bench.harness import HOST, ROOT, BenchError, Environment, Options, Server, progress
from bench.intake import floor_ok, ticket_ok, warm_up
from bench.results import Report
from bench.stats import percentile
from bot.cards import ticket_of
from config import DEV_WECHAT_AES_KEY, DEV_WECHAT_APPID, DEV_WECHAT_TOKEN
from demo.complaints import RESIDENTS_PER_BUILDING, Complaint, buildings, complaints, misfits, residents
from simulator.officialaccount import OfficialAccount

SECTION = "Intake under load (open loop) and end to end"
BOT_ID, BOT_SECRET = "bench-bot", "bench-bot-secret"
# Per-chat limit the gateway is told for this benchmark (Tencent: 30 a minute): higher than any pass sends.
LIFTED_CHAT_LIMIT = 1_000_000
SUPERVISOR_CHAT = "wrk-chat-centre"
# Saturation: closed loop, this many connections per gunicorn worker, each sending again as soon as answered.
CONCURRENCY_PER_WORKER = 4
# WeChat's limit: no answer in 5 s and it drops the connection and retries.
WECHAT_SECONDS = 5.0
# A request still unanswered after this long is given up and counted as an error.
CLIENT_TIMEOUT = 60.0
# After a phase, wait for its cards while they keep coming; give up after this long without a new one. Under WeCom's
# limits a full chat's next slot may be a minute away (its window): wait past that.
CARD_IDLE_TIMEOUT = 30.0
CARD_IDLE_TIMEOUT_LIMITED = 75.0
# The floor needs no unique complaints; cap what is signed up front for its saturation pass.
FLOOR_SATURATION_CAP = 3000  # per second of the pass
# A smoke run's app messages, all told: signing the whole pool up front would take longer than the run.
SMOKE_POOL = 200
TICKET_NUMBER = re.compile(r"工单号 (\d+)（")

INTRO = f"""What the issue asks: signed and encrypted (safe mode) Official Account messages with unique MsgIds,
sent by a load generator on loopback to the real gunicorn, and in the same run to the floor (`bench/floor.py`:
checks the signature, answers `success`) on the same gunicorn settings; throughput and latency at fixed offered
rates and at saturation, the ratio to the floor, and the time from a resident's message to its card in the grid's
WeCom group.

The service runs as in production: gunicorn with sync workers (`app:create_app()`, and the floor beside it), one rq
worker and the AI-bot gateway (`python -m bot.gateway`), against the simulator's AI-bot WebSocket and WeChat API
stand-ins, in a process of their own. No cron runs (nothing it does is on a card's path). The demo community is
imported with the CLI (`flask seed-demo`), and {RESIDENTS_PER_BUILDING} residents per demo building with
`flask import-people` (distinct openids, each bound to a building). Every message is a new complaint from one of
them naming a building and unit of a demo grid ("幸福小区3栋2单元门口的路灯不亮了好几天": 43 buildings x 9
units x 36 problems, three per category, in a fixed shuffled order), so that each one opens, classifies, routes
and assigns a ticket and pushes one card; no two repeat each other (which would link the second to the first
ticket and push no card).

The generator is one Python process (asyncio, raw HTTP/1.1 over `asyncio` streams, one connection per message,
as WeChat's servers connect and gunicorn's sync workers close after each answer). Each pass signs and encrypts
all its messages before its clock starts. **Open loop**: message k is due at start + k / rate whatever the
answers do, and its latency runs from that due time to the last byte of the answer, so a server that falls
behind is charged for the wait (no coordinated omission); "lag" is how late the generator itself began a
message. **Saturation**: a closed loop of {CONCURRENCY_PER_WORKER} connections per gunicorn worker, each sending
its next message when its last is answered, latency from the send. Every answer is checked after its pass:
HTTP 200 and, from the app, a signed, decryptable passive reply naming `工单号 <n>（<category>）`; a wrong
answer voids the run. "errors" are failed connections and requests unanswered after {CLIENT_TIMEOUT:.0f} s;
"> 5 s" counts answers WeChat would not have waited for (it retries). Rates are interleaved (floor, then app,
at each rate), and after each app pass the run waits for all its cards, so no pass inherits another's backlog.

**End to end** is, for each answered app message, the time its card (`template_card`, task `ticket-<n>-…`) reached the
AI-bot stand-in (its `time.time()` on receipt of `aibot_send_msg`), minus the time the message was due (open loop) or
sent (saturation); "after the reply" starts at the last byte of the passive reply instead. Both clocks are the same
machine's wall clock. The card path is: commit, publish on the gateway's Redis wake channel, gateway gathers while
wake-ups keep coming (at most 50 ms apart, up to 150 ms), reads and leases what may go, renders, sends over the
WebSocket. The rq worker is running but carries no card (with an AI bot the gateway sends group pushes); the
group-robot webhook path is not measured (our own limit of 20 pushes per 62 s per robot would make it the bottleneck
at any of these rates). The stand-in accepts every push at once: Tencent's frequency limit per chat (30 a minute,
1,000 an hour, under which the gateway paces itself) is lifted in the stand-in and in the gateway for this benchmark,
since spread over the 8 demo groups even 20 msg/s is far more than a real group takes; the end-to-end figures measure
our pipeline, not what a group would see at such rates. With `--wecom-limits` they are kept in both, there is no
saturation pass, and the run waits up to {CARD_IDLE_TIMEOUT_LIMITED:.0f} s for a new card (a full chat's next slot may
be a minute away): the figures are then what the groups see, and "most to one chat" (the most tickets of the pass for
one group) says how close a chat came to its 30 a minute. Nor are WeChat's retries simulated: a message answered after
5 s is counted, not sent again.

**The generator shares the machine with everything it measures**: "gen CPU" is its process CPU time over the pass's
wall time (100 % = one core), "machine busy" all CPUs from /proc/stat, which counts anything else running on the
machine too. "server CPU ms/msg" is the CPU time of that gunicorn (master and workers, from /proc) per answered
message: unlike the latencies it hardly depends on what else the machine is doing, so it is the steadier figure when
the machine is shared. The floor's saturation figure in particular is bounded by the CPUs it shares with the
generator, and the app's by those it shares with the gateway, the database and the generator. On a quiet machine
with spare cores the app's figures would be better, not worse."""


# ---------------------------------------------------------------------------------------------------------------
# The simulator in a process of its own, and the service's other processes.


def serve_simulator(demo_dir: Path, limits: bool = False) -> int:
    """`python -m bench.load simulator DEMO_DIR [limits]`: Tencent's stand-ins until stdin closes; one command per
    line. With `limits` the AI bot keeps WeCom's per-chat limits.

    count            the cards (template_card pushes) received so far, all chats
    connected        1 when a gateway is connected
    refused          the messages the AI bot refused with 45009 (over a chat's limit) so far
    dump PATH        writes {chat: [[task_id, time.time() on receipt], ...]} to PATH, answers "ok"
    """
    from simulator import server

    # Tencent's 30 messages a minute per chat lifted here and in the gateway (WECOM_CHAT_PER_*): this benchmark
    # measures our pipeline at rates no real group takes (the pacing itself is tests/bot/test_gateway.py's), unless
    # it was asked to keep them (--wecom-limits).
    running = server.start(
        "http://127.0.0.1:9",
        bot_id=BOT_ID,
        bot_secret=BOT_SECRET,
        demo_dir=demo_dir,
        aibot_limits=None if limits else {"per_minute": None, "per_hour": None},
    )
    aibot = running.sim.aibot

    def cards() -> dict[str, list[tuple[str, float]]]:
        return {
            chat: [
                (m["body"]["template_card"].get("task_id", ""), m["time"])
                for m in aibot.messages(chat)
                if m["kind"] == "send" and m["body"].get("msgtype") == "template_card"
            ]
            for chat in running.sim.chat_ids()
        }

    print(json.dumps({"url": running.url, "ws_url": running.ws_url}), flush=True)
    try:
        for line in sys.stdin:
            command, _, arg = line.strip().partition(" ")
            if command == "count":
                answer = str(sum(len(sent) for sent in cards().values()))
            elif command == "connected":
                answer = "1" if aibot.connected else "0"
            elif command == "refused":
                answer = str(aibot.rate_refused)
            elif command == "dump":
                Path(arg).write_text(json.dumps(cards()))
                answer = "ok"
            else:
                answer = f"unknown command {command!r}"
            print(answer, flush=True)
    finally:
        running.stop()
    return 0


class Simulator:
    def __init__(self, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.proc, self.log = proc, log
        ready = json.loads(self._line(30))
        self.url, self.ws_url = ready["url"], ready["ws_url"]

    def _line(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else b""
        if not line:
            tail = self.log.read_text(errors="replace")[-2000:]
            raise BenchError(f"the simulator did not answer (exit {self.proc.poll()}):\n{tail}")
        return line.decode().strip()

    def ask(self, command: str, timeout: float = 30) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command.encode() + b"\n")
        self.proc.stdin.flush()
        return self._line(timeout)

    def cards(self) -> int:
        return int(self.ask("count"))

    def card_times(self, tmp: Path) -> dict[int, tuple[str, float]]:
        """ticket -> (chat, arrival time) of its first card."""
        path = tmp / "cards.json"
        self.ask(f"dump {path}", timeout=120)
        found: dict[int, tuple[str, float]] = {}
        for chat, sent in json.loads(path.read_text()).items():
            for task, at in sent:
                ticket = ticket_of(task)
                if ticket is not None and (ticket not in found or at < found[ticket][1]):
                    found[ticket] = (chat, at)
        return found


@contextmanager
def simulator(env: Environment, demo_dir: Path, limits: bool = False) -> Iterator[Simulator]:
    log = env.tmp / "simulator.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.load", "simulator", str(demo_dir), *(["limits"] if limits else [])],
            cwd=ROOT,
            env=env.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=out,
            start_new_session=True,
        )
    try:
        yield Simulator(proc, log)
    finally:
        if proc.stdin:
            proc.stdin.close()
        harness.stop(proc)
        if proc.stdout:
            proc.stdout.close()


def one_bot_demo(tmp: Path) -> Path:
    """demo/ with no unit naming a bot of its own: every group is the default bot's."""
    copy = tmp / "demo-one-bot"
    copy.mkdir(exist_ok=True)
    for source in (ROOT / "demo").glob("*.csv"):
        rows = list(csv.DictReader(source.open(encoding="utf-8")))
        if source.name == "org.csv":
            rows = [row | {"bot_id": ""} for row in rows]
        with (copy / source.name).open("w", encoding="utf-8", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else [])
            writer.writeheader()
            writer.writerows(rows)
    return copy


@contextmanager
def process(env: Environment, name: str, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """A service process (rq worker, gateway) in its own process group, stopped with it."""
    with (env.tmp / f"{name}.log").open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=env.env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        harness.stop(proc)


def service_env(env: Environment, sim: Simulator, limits: bool = False) -> Environment:
    """What `make run` gives its processes: live delivery to the simulator, the AI bot, the centre's chat; WeCom's
    per-chat limits lifted unless `limits`."""
    lifted = {"WECOM_CHAT_PER_MINUTE": str(LIFTED_CHAT_LIMIT), "WECOM_CHAT_PER_HOUR": str(LIFTED_CHAT_LIMIT)}
    return replace(
        env,
        env=env.env
        | ({} if limits else lifted)
        | {
            "WGT_DELIVERY": "live",
            "WGT_DAILY_REPORT_AT": "",  # no 日报 falling due in the middle of a pass
            "WECHAT_API_BASE": f"{sim.url}/cgi-bin/",
            "WECOM_API_BASE": f"{sim.url}/cgi-bin/",
            "WECOM_BOT_ID": BOT_ID,
            "WECOM_BOT_SECRET": BOT_SECRET,
            "WECOM_WS_URL": sim.ws_url,
            "WECOM_SUPERVISOR_CHAT_ID": SUPERVISOR_CHAT,
            "PYTHONUNBUFFERED": "1",
        },
    )


def wait_until(check: Callable[[], bool], timeout: float, what: str, procs: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if any(p.poll() is not None for p in procs):
            raise BenchError(f"a process exited while waiting for {what}")
        if time.monotonic() > deadline:
            raise BenchError(f"still waiting after {timeout:.0f} s for {what}")
        time.sleep(0.1)


# ---------------------------------------------------------------------------------------------------------------
# The load generator.


@dataclass(slots=True)
class Sample:
    due: float  # perf_counter: when the message was due (open loop) or sent (closed loop)
    start: float  # when the generator began connecting
    end: float  # the answer's last byte, or the failure
    status: int
    body: bytes
    error: str = ""

    @property
    def latency(self) -> float:
        return self.end - self.due


def request(port: int, query: str, body: bytes) -> bytes:
    head = (
        f"POST /wechat?{query} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: text/xml\r\n"
        f"Content-Length: {len(body)}\r\nUser-Agent: Mozilla/4.0\r\nAccept: */*\r\n\r\n"
    )
    return head.encode() + body


async def exchange(port: int, raw: bytes, due: float) -> Sample:
    """One message on a new connection: send, read the status, headers and body; time the last byte."""
    start = time.perf_counter()
    writer = None
    try:
        async with asyncio.timeout(CLIENT_TIMEOUT):
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
            length = int(headers.get("content-length", -1))
            body = await (reader.readexactly(length) if length >= 0 else reader.read())
        return Sample(due, start, time.perf_counter(), status, body)
    except (OSError, TimeoutError, ValueError, IndexError, asyncio.IncompleteReadError) as failure:
        return Sample(due, start, time.perf_counter(), 0, b"", f"{type(failure).__name__}: {failure}")
    finally:
        if writer is not None:
            writer.close()


async def open_loop(port: int, raws: list[bytes], rate: float) -> list[Sample]:
    """Message k goes at start + k / rate, whether or not earlier ones have been answered."""
    start = time.perf_counter() + 0.05
    tasks = []
    for k, raw in enumerate(raws):
        due = start + k / rate
        if (wait := due - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        tasks.append(asyncio.create_task(exchange(port, raw, due)))
    return list(await asyncio.gather(*tasks))


async def closed_loop(port: int, raws: list[bytes], concurrency: int, seconds: float) -> list[Sample]:
    """`concurrency` connections at a time, each sending its next message as soon as the last is answered."""
    messages = enumerate(raws)
    sent: list[tuple[int, Sample]] = []
    stop = time.perf_counter() + seconds

    async def client() -> None:
        while time.perf_counter() < stop and (item := next(messages, None)) is not None:
            k, raw = item
            sent.append((k, await exchange(port, raw, time.perf_counter())))

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return [sample for _, sample in sorted(sent, key=lambda pair: pair[0])]


def cpu_times() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    return (total - idle) / harness.TICK, total / harness.TICK


def named_cpu(names: tuple[str, ...]) -> float:
    """CPU seconds of every process on the machine with one of these names (the database's, Redis's)."""
    total = 0.0
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if (proc / "comm").read_text().strip() in names:
                total += harness.process_cpu(int(proc.name))
        except (OSError, ValueError):
            continue
    return total


# Servers that may not be ours alone: every process of that name on the machine is counted.
SHARED_SERVERS = {"postgres": ("postgres",), "redis": ("redis-server",)}


class Meter:
    """CPU seconds used so far: the generator, each service process with its children, the database, Redis."""

    def __init__(self, trees: dict[str, int]) -> None:
        self.trees = trees

    def read(self) -> dict[str, float]:
        now = {name: harness.tree_cpu(pid) for name, pid in self.trees.items()}
        now |= {name: named_cpu(comms) for name, comms in SHARED_SERVERS.items()}
        now["generator"] = time.process_time()
        now["machine busy"], now["machine total"] = cpu_times()
        return now

    @staticmethod
    def since(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        return {name: after[name] - before.get(name, 0.0) for name in after}


# ---------------------------------------------------------------------------------------------------------------
# Passes.


@dataclass
class Pass:
    server: str  # "floor" | "app"
    rate: int | None  # offered msg/s; None: saturation (closed loop)
    concurrency: int = 0
    samples: list[Sample] = field(default_factory=list)
    sent: list[Complaint] = field(default_factory=list)
    perf0: float = 0.0  # perf_counter and time.time() read together, to put due times on the wall clock
    wall0: float = 0.0
    # CPU seconds by process (Meter) while the pass's answers came, and until its cards had (app passes).
    cpu: dict[str, float] = field(default_factory=dict)
    cpu_with_cards: dict[str, float] = field(default_factory=dict)
    cpu_start: dict[str, float] = field(default_factory=dict)
    wrong: list[str] = field(default_factory=list)
    numbers: list[int | None] = field(default_factory=list)
    e2e: list[float] = field(default_factory=list)
    after_reply: list[float] = field(default_factory=list)
    missing: int = 0
    misrouted: int = 0

    @property
    def name(self) -> str:
        return f"{self.server} @ {self.rate}/s" if self.rate else f"{self.server} saturation"

    @property
    def busiest_chat(self) -> int:
        """The most tickets of this pass that one group chat was sent (WeCom lets a chat take 30 a minute)."""
        chats = Counter(c.chat_id for c, number in zip(self.sent, self.numbers, strict=True) if number is not None)
        return max(chats.values(), default=0)

    @property
    def ok(self) -> list[Sample]:
        return [s for s in self.samples if s.status == 200 and not s.error]

    @property
    def errors(self) -> int:
        return sum(1 for s in self.samples if s.error or s.status != 200)

    def ms(self, p: int) -> float:
        return percentile([s.latency * 1000 for s in self.ok], p)

    @property
    def max_ms(self) -> float:
        return max((s.latency for s in self.ok), default=float("nan")) * 1000

    @property
    def throughput(self) -> float:
        """Answers per second, from the first message's due time to the last answer."""
        ok = self.ok
        if not ok:
            return 0.0
        span = max(s.end for s in self.samples) - min(s.due for s in self.samples)
        return len(ok) / span if span > 0 else float("nan")

    @property
    def lag_ms(self) -> float:
        return percentile([(s.start - s.due) * 1000 for s in self.samples], 99)

    @property
    def over_wechat(self) -> int:
        return sum(1 for s in self.ok if s.latency > WECHAT_SECONDS)

    @property
    def generator_share(self) -> float:
        """The generator's CPU over the pass's wall time (1.0 = one core busy)."""
        wall = max(s.end for s in self.samples) - min(s.due for s in self.samples) if self.samples else 0
        return self.cpu["generator"] / wall if wall > 0 else float("nan")

    @property
    def machine_share(self) -> float:
        total = self.cpu.get("machine total", 0.0)
        return self.cpu["machine busy"] / total if total > 0 else float("nan")

    @property
    def server_cpu_ms(self) -> float:
        """The gunicorn (master and workers) CPU per answered message, while the pass ran."""
        return self.cpu.get(self.server, float("nan")) * 1000 / len(self.ok) if self.ok else float("nan")

    def cpu_ms_per_message(self, name: str) -> float:
        spent = (self.cpu_with_cards or self.cpu).get(name, float("nan"))
        answered = len(self.ok)
        return spent * 1000 / answered if answered else float("nan")


class Runner:
    """Signs, sends and checks one pass at a time against one server."""

    def __init__(self, oa: OfficialAccount, options: Options, meter: Meter) -> None:
        self.oa, self.options, self.meter = oa, options, meter
        self.reply_ok = ticket_ok(oa, safe=True)

    def sign(self, port: int, batch: list[Complaint]) -> list[bytes]:
        make = maker(self.oa, iter(batch))
        return [request(port, *make()) for _ in batch]

    def run(self, server: Server, kind: str, batch: list[Complaint], rate: int | None, concurrency: int) -> Pass:
        label = f"{rate} msg/s open loop" if rate else f"saturation, {concurrency} connections"
        progress(f"{kind}: {label}, up to {len(batch)} messages")
        result = Pass(kind, rate, concurrency)
        raws = self.sign(server.port, batch)
        result.cpu_start = self.meter.read()
        result.perf0, result.wall0 = time.perf_counter(), time.time()
        if rate:
            result.samples = asyncio.run(open_loop(server.port, raws, rate))
        else:
            result.samples = asyncio.run(closed_loop(server.port, raws, concurrency, self.options.seconds))
        result.cpu = Meter.since(result.cpu_start, self.meter.read())
        result.sent = batch[: len(result.samples)]  # a closed loop stops early; it takes them in order
        self.check(result)
        return result

    def check(self, result: Pass) -> None:
        for k, sample in enumerate(result.samples):
            number = None
            if not sample.error and sample.status == 200:
                if result.server == "floor":
                    problem = floor_ok(sample.status, sample.body)
                else:
                    problem = self.reply_ok(sample.status, sample.body)
                    if problem is None:
                        content = self.oa.open_reply(sample.body.decode(), safe=True).get("Content", "")
                        found = TICKET_NUMBER.search(content)
                        number = int(found.group(1)) if found else None
                if problem:
                    result.wrong.append(f"{result.name} message {k + 1}: {problem}")
            result.numbers.append(number)


def cards_due(result: Pass) -> int:
    due = sum(1 for n in result.numbers if n is not None)
    progress(f"  waiting for its {due} cards")
    return due


def wait_for_cards(sim: Simulator, expected: int, idle: float = CARD_IDLE_TIMEOUT) -> int:
    """Wait while cards keep arriving until `expected` have, giving up after `idle` s without one; the count
    reached."""
    seen, last_change = sim.cards(), time.monotonic()
    while seen < expected and time.monotonic() - last_change < idle:
        time.sleep(0.2)
        now = sim.cards()
        if now != seen:
            seen, last_change = now, time.monotonic()
    return seen


def end_to_end(passes: list[Pass], cards: dict[int, tuple[str, float]]) -> None:
    for result in passes:
        if result.server != "app":
            continue
        for sample, complaint, number in zip(result.samples, result.sent, result.numbers, strict=True):
            if number is None:
                continue
            card = cards.get(number)
            if card is None:
                result.missing += 1
                continue
            chat, arrived = card
            if chat != complaint.chat_id:
                result.misrouted += 1
            result.e2e.append(arrived - (result.wall0 + sample.due - result.perf0))
            result.after_reply.append(arrived - (result.wall0 + sample.end - result.perf0))


# ---------------------------------------------------------------------------------------------------------------


def run(options: Options) -> list[Report]:
    progress("checking the complaint templates against the classifier")
    if wrong := misfits():
        raise BenchError(
            "demo/complaints.py TEMPLATES no longer fit the classifier; change them:\n  " + "\n  ".join(wrong)
        )
    places = buildings()
    people = residents(places)
    pool = complaints(places, people)
    if options.smoke:
        pool = pool[:SMOKE_POOL]
    oa = OfficialAccount(token=DEV_WECHAT_TOKEN, aes_key=DEV_WECHAT_AES_KEY, appid=DEV_WECHAT_APPID)
    concurrency = CONCURRENCY_PER_WORKER * options.workers
    with harness.environment(options) as env, ExitStack() as stack:
        # One bot for the whole demo (its 和平街道 runs a second one): the gateway's CPU per card is one process's.
        demo_dir = one_bot_demo(env.tmp)
        harness.seed_demo(env, demo_dir)
        imported = harness.import_residents(env, people)
        sim = stack.enter_context(simulator(env, demo_dir, options.wecom_limits))
        env = service_env(env, sim, options.wecom_limits)
        load_before = os.getloadavg()[0]
        app = stack.enter_context(harness.gunicorn(env, "app:create_app()", "app", options.workers))
        floor = stack.enter_context(harness.gunicorn(env, "bench.floor:create_app()", "floor", options.workers))
        worker = stack.enter_context(process(env, "worker", "worker.py"))
        gateway = stack.enter_context(process(env, "gateway", "-m", "bot.gateway"))
        wait_until(lambda: sim.ask("connected") == "1", 60, "the gateway to connect", [worker, gateway])
        meter = Meter(
            {
                "app": app.proc.pid,
                "floor": floor.proc.pid,
                "gateway": gateway.pid,
                "worker": worker.pid,
                "simulator": sim.proc.pid,
            }
        )
        runner = Runner(oa, options, meter)
        fresh = iter(pool)  # the app's messages: each used once
        floor_pool = itertools.cycle(pool)  # the floor's: any, over and over

        def take(source: Iterator[Complaint], n: int) -> list[Complaint]:
            return list(itertools.islice(source, n))

        cards = 0
        for server, source, check in ((floor, floor_pool, floor_ok), (app, fresh, runner.reply_ok)):
            progress(f"{server.name}: warming up")
            conn = server.connection()
            try:
                warm = warm_up(server, conn, maker(oa, source), check, options)
            finally:
                conn.close()
            if server is app:
                cards += len(warm.seconds)
        idle = CARD_IDLE_TIMEOUT_LIMITED if options.wecom_limits else CARD_IDLE_TIMEOUT
        wait_for_cards(sim, cards, idle)

        passes: list[Pass] = []

        def app_pass(batch: list[Complaint], rate: int | None) -> Pass:
            nonlocal cards
            result = runner.run(app, "app", batch, rate, concurrency)
            cards += cards_due(result)
            wait_for_cards(sim, cards, idle)
            result.cpu_with_cards = Meter.since(result.cpu_start, meter.read())
            return result

        for rate in options.rates:
            n = round(rate * options.seconds)
            passes.append(runner.run(floor, "floor", take(floor_pool, n), rate, concurrency))
            passes.append(app_pass(take(fresh, n), rate))
        remaining = list(fresh)
        if not options.wecom_limits:  # under the limits saturation only queues cards: its pace is WeCom's
            floor_cap = round((SMOKE_POOL if options.smoke else FLOOR_SATURATION_CAP) * options.seconds)
            passes.append(runner.run(floor, "floor", take(floor_pool, floor_cap), None, concurrency))
            passes.append(app_pass(remaining, None))
        end_to_end(passes, sim.card_times(env.tmp))
        load_after = os.getloadavg()[0]
        pool_left = len(remaining) - (len(passes[-1].samples) if not options.wecom_limits else 0)
        refused = int(sim.ask("refused"))
        setup = Setup(imported, len(pool), pool_left, concurrency, load_before, load_after, refused)
        return [report(env, options, passes, setup)]


def maker(oa: OfficialAccount, source: Iterator[Complaint]) -> Callable[[], tuple[str, bytes]]:
    """The next complaint from `source`, signed and encrypted (for the warm-up, which signs as it goes)."""

    def make() -> tuple[str, bytes]:
        complaint = next(source)
        return oa.signed(oa.text(complaint.openid, complaint.text), safe=True)

    return make


@dataclass(frozen=True)
class Setup:
    imported: str
    pool: int
    pool_left: int
    concurrency: int
    load_before: float
    load_after: float
    refused: int  # the AI bot's 45009 answers: a chat's limit overrun


# ---------------------------------------------------------------------------------------------------------------
# The report.


def fmt_ms(value: float) -> str:
    if value != value:  # nan
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def report(env: Environment, options: Options, passes: list[Pass], setup: Setup) -> Report:
    floors = {p.rate: p for p in passes if p.server == "floor"}
    header = (
        "| server | offered msg/s | sent | answered msg/s | p50 ms | p95 ms | p99 ms | max ms | > 5 s | errors "
        "| p50 ÷ floor | p99 ÷ floor | server CPU ms/msg | lag p99 ms | gen CPU | machine busy |\n"
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    )
    rows = [header]
    for p in passes:
        floor = floors.get(p.rate)
        same_rate = p.server == "app" and p.rate is not None and floor is not None
        offered = str(p.rate) if p.rate else f"saturation ({p.concurrency} conn.)"
        unit = "1" if p.server == "floor" and p.rate else "-"
        rows.append(
            f"| {p.server} | {offered} | {len(p.samples)} | {p.throughput:,.0f} | {fmt_ms(p.ms(50))} "
            f"| {fmt_ms(p.ms(95))} | {fmt_ms(p.ms(99))} | {fmt_ms(p.max_ms)} | {p.over_wechat} | {p.errors} "
            f"| {f'{p.ms(50) / floor.ms(50):.1f}x' if same_rate and floor else unit} "
            f"| {f'{p.ms(99) / floor.ms(99):.1f}x' if same_rate and floor else unit} "
            f"| {p.server_cpu_ms:.2f} | {fmt_ms(p.lag_ms) if p.rate else '-'} | {p.generator_share:.0%} "
            f"| {p.machine_share:.0%} |"
        )
    e2e_header = (
        "| offered msg/s | cards | median ms | p95 ms | p99 ms | max ms | after the reply: median / p99 ms "
        "| no card | wrong chat | most to one chat |\n"
        "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    )
    e2e_rows = [e2e_header]
    apps = [p for p in passes if p.server == "app"]
    for p in apps:
        e2e = [s * 1000 for s in p.e2e]
        after = [s * 1000 for s in p.after_reply]
        offered = str(p.rate) if p.rate else f"saturation ({p.concurrency} conn.)"
        e2e_rows.append(
            f"| {offered} | {len(e2e)} | {fmt_ms(percentile(e2e, 50))} | {fmt_ms(percentile(e2e, 95))} "
            f"| {fmt_ms(percentile(e2e, 99))} | {fmt_ms(max(e2e, default=float('nan')))} "
            f"| {fmt_ms(percentile(after, 50))} / {fmt_ms(percentile(after, 99))} | {p.missing} | {p.misrouted} "
            f"| {p.busiest_chat} |"
        )
    cpu_rows = [
        "| offered msg/s | gunicorn (app) | gateway | rq worker | simulator | postgres (all) | redis-server (all) "
        "| generator | machine busy, all processes |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for p in apps:
        offered = str(p.rate) if p.rate else "saturation"
        spent = p.cpu_with_cards
        wall = spent.get("machine total", 0.0) / len(os.sched_getaffinity(0))
        names = ("app", "gateway", "worker", "simulator", "postgres", "redis", "generator")
        cells = " | ".join(
            "-" if name == "postgres" and not options.database_url else f"{p.cpu_ms_per_message(name):.2f}"
            for name in names
        )
        busy = spent.get("machine busy", 0.0) * 1000 / len(p.ok) if p.ok else float("nan")
        cpu_rows.append(f"| {offered} | {cells} | {busy:.2f} ({wall:.0f} s) |")
    block = "\n".join(
        [
            *harness.provenance(
                options,
                env,
                machine_note=f"1-minute load average {setup.load_before:.2f} before the first pass, "
                f"{setup.load_after:.2f} after the last",
            ),
            f"- Servers: gunicorn {version('gunicorn')}, {options.workers} sync workers each (nproc "
            f"{len(os.sched_getaffinity(0))}), 127.0.0.1; app and floor both up for the whole run, with one rq "
            "worker, the AI-bot gateway and the simulator (its own process)",
            f"- Load: {len(options.rates)} offered rates x {options.seconds:g} s each, open loop, "
            + (
                "no saturation pass"
                if options.wecom_limits
                else f"then {options.seconds:g} s of saturation ({setup.concurrency} connections)"
            )
            + f"; Python {sys.version.split()[0]} asyncio, one process; residents: "
            f"{setup.imported.replace(chr(10), ' ')}",
            "- WeCom's per-chat limits (30 messages a minute, 1,000 an hour): "
            + (
                "**kept**, in the AI-bot stand-in and the gateway's pacing"
                if options.wecom_limits
                else "lifted, in the stand-in and the gateway (see above)"
            )
            + f"; messages the stand-in refused with 45009 (over a chat's limit): {setup.refused}",
            f"- Complaints: {setup.pool:,} distinct (building x unit x problem); {setup.pool_left:,} left unused "
            "(saturation stops early if they run out)",
            "",
            *rows,
            "",
            summary(passes),
            "",
            "End to end, the resident's message to the card in the grid's group (app passes above):",
            "",
            *e2e_rows,
            "",
            e2e_summary(passes),
            "",
            "CPU per answered message, ms, by process, from the start of each app pass until its last card had "
            'arrived (so the gateway\'s catching up is counted); "(all)" counts every process of that name on '
            "the machine, and the last column everything, over the wall time in brackets:",
            "",
            *cpu_rows,
        ]
    )
    wrong = [w for p in passes for w in p.wrong]
    title = f"{env.variant}, WeCom's per-chat limits kept" if options.wecom_limits else env.variant
    return Report(SECTION, INTRO, title, block, valid=not wrong, errors=wrong[:10])


def summary(passes: list[Pass]) -> str:
    apps = {p.rate: p for p in passes if p.server == "app"}
    floors = {p.rate: p for p in passes if p.server == "floor"}
    kept = [
        r
        for r, p in apps.items()
        if r and p.errors == 0 and p.over_wechat == 0 and p.throughput >= 0.95 * r and p.ms(99) < 1000
    ]
    app_sat, floor_sat = apps.get(None), floors.get(None)
    parts = []
    if kept:
        top = max(kept)
        parts.append(
            f"Highest offered rate the app kept up with (every message answered, p99 under 1 s): **{top} msg/s**, "
            f"p99 {fmt_ms(apps[top].ms(99))} ms, {apps[top].ms(99) / floors[top].ms(99):.1f}x the floor's."
        )
    else:
        parts.append("The app kept up with none of the offered rates (every message answered, p99 under 1 s).")
    if app_sat and floor_sat:
        parts.append(
            f"At saturation the app answered **{app_sat.throughput:,.0f} msg/s** (p50 {fmt_ms(app_sat.ms(50))} ms, "
            f"p99 {fmt_ms(app_sat.ms(99))} ms), **{times(app_sat.throughput, floor_sat.throughput, 2)}** the floor's "
            f"{floor_sat.throughput:,.0f} msg/s; the generator used {floor_sat.generator_share:.0%} of a core "
            "during the floor's pass, so the floor's figure is a lower bound."
        )
    app_cpu, floor_cpu = cpu_per_message(passes, "app"), cpu_per_message(passes, "floor")
    gateway = cpu_per_message(passes, "app", "gateway")
    parts.append(
        f"CPU per message over the open-loop passes: the app's gunicorn **{app_cpu:.1f} ms**, "
        f"**{times(app_cpu, floor_cpu)}** the floor's {floor_cpu:.2f} ms; the gateway spends {gateway:.1f} ms more "
        "per card."
    )
    return " ".join(parts)


def times(a: float, b: float, digits: int = 1) -> str:
    """a ÷ b as "2.5x"; "-" when b is 0 (a pass so short that the floor's CPU time is below one clock tick)."""
    return f"{a / b:.{digits}f}x" if b else "-"


def cpu_per_message(passes: list[Pass], server: str, process: str = "") -> float:
    """CPU ms per answered message of one process over all open-loop passes of a server (cards included)."""
    chosen = [p for p in passes if p.server == server and p.rate]
    spent = sum((p.cpu_with_cards or p.cpu).get(process or server, 0.0) for p in chosen)
    answered = sum(len(p.ok) for p in chosen)
    return spent * 1000 / answered if answered else float("nan")


def e2e_summary(passes: list[Pass]) -> str:
    parts = []
    for p in passes:
        if p.server == "app" and p.e2e:
            e2e = [s * 1000 for s in p.e2e]
            where = f"at {p.rate} msg/s" if p.rate else "at saturation"
            parts.append(
                f"{where} median **{fmt_ms(percentile(e2e, 50))} ms**, p99 **{fmt_ms(percentile(e2e, 99))} ms**"
            )
    return "End to end, message to card: " + "; ".join(parts) + "." if parts else ""


if __name__ == "__main__":
    if sys.argv[1:2] == ["simulator"] and len(sys.argv) in (3, 4):
        sys.exit(serve_simulator(Path(sys.argv[2]), sys.argv[3:] == ["limits"]))
    sys.exit("usage: python -m bench.load simulator DEMO_DIR   (the benchmark itself: python -m bench load)")
