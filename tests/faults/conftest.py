"""Fault tests: the real processes (tests/processes.py) against a PostgreSQL cluster and a redis-server of their own,
so that restarting or flushing them touches nothing another test (or the machine) uses. DATABASE_URL and REDIS_URL
are ignored here: CI's second pass runs these the same way as the first.

What a test reads is counted, not sampled: every MsgId sent, every ticket row, every card the AI-bot stand-in
received, every notice the WeChat API stand-in delivered.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import func
from sqlmodel import Session, col, select

from config import Settings
from demo.complaints import Building, Complaint, buildings, complaints, residents, write_residents
from simulator import server
from simulator.officialaccount import OfficialAccount
from storage.db import make_engine, migrate
from storage.models import Outbox, OutboxStatus, Ticket
from tests.processes import Process, Processes, free_port
from tests.test_e2e_processes import Stack, demo_with_street_bot, service_env

TICKET_NUMBER = re.compile(r"工单号\s*(\d+)")
WECHAT_SECONDS = 5.0  # WeChat waits this long for an answer, then drops the connection and retries
CHATS = sorted({b.chat_id for b in buildings()} | {server.SUPERVISOR_CHAT_ID})


# ---- a private PostgreSQL cluster and redis-server ---------------------------------------------------------------


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


@dataclass
class PrivatePostgres:
    bin: Path
    data: Path
    port: int

    def ctl(self, *args: str, timeout: float = 60) -> None:
        _as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), *args], timeout)

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self.ctl("-o", opts, "-l", str(self.data / "server.log"), "-w", "start")

    def restart(self, down: float = 1.0) -> None:
        """`pg_ctl restart -m fast`, held down for `down` seconds between stop and start so that a load at 10
        messages a second surely meets it: sessions are cut, connections refused, then the server is back."""
        self.ctl("-m", "fast", "-w", "stop")
        time.sleep(down)
        self.start()

    def url(self, db: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def createdb(self) -> str:
        name = f"faults_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        return self.url(name)


def _as_postgres(argv: list[str], timeout: float) -> None:
    if os.geteuid() == 0:  # initdb refuses to run as root
        argv = ["runuser", "-u", "postgres", "--", *argv]
    done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{' '.join(argv)}: {(done.stdout + done.stderr).decode(errors='replace')}"


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    pg_bin = _pg_bin()
    if pg_bin is None:
        pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql")
    # Not under pytest's tmp dir: that is root's (mode 0700) and the server runs as postgres.
    data = Path(tempfile.mkdtemp(prefix="wgt-faults-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    cluster = PrivatePostgres(pg_bin, data / "data", free_port())
    try:
        _as_postgres([str(pg_bin / "initdb"), "-D", str(cluster.data), "-A", "trust", "-U", "postgres"], 120)
        cluster.start()
        yield cluster
    finally:
        try:
            cluster.ctl("-m", "immediate", "stop")
        except AssertionError:
            pass  # never started
        shutil.rmtree(data, ignore_errors=True)


@dataclass
class PrivateRedis:
    port: int
    dir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        argv += ["--daemonize", "no", "--dir", str(self.dir)]
        log = (self.dir / "redis.log").open("ab")
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        client = Redis.from_url(self.url)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    if client.ping():
                        return
                except (OSError, RedisError):  # not listening yet
                    pass
                assert time.monotonic() < deadline, "private redis-server did not answer"
                time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def flush_and_restart(self, down: float = 1.0) -> None:
        """FLUSHALL, then kill -9 and start again (empty, no persistence) after `down` seconds."""
        client = Redis.from_url(self.url)
        client.flushall()
        client.close()
        self.stop()
        time.sleep(down)
        self.start()


@pytest.fixture(scope="session")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server on PATH")
    redis = PrivateRedis(free_port(), tmp_path_factory.mktemp("faults-redis"))
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


# ---- the stack -------------------------------------------------------------------------------------------------


@dataclass
class Faulty(Stack):
    """The e2e Stack on the private services, with a load generator and a stand-in for systemd's Restart=always."""

    pg: PrivatePostgres = field(default=None)  # type: ignore[assignment]
    private_redis: PrivateRedis = field(default=None)  # type: ignore[assignment]
    oa: OfficialAccount = field(default=None)  # type: ignore[assignment]
    pool: list[Complaint] = field(default_factory=list)
    restarts: Counter[str] = field(default_factory=Counter)
    _used: set[str] = field(default_factory=set)
    _supervising: threading.Event = field(default_factory=threading.Event)

    def next_complaints(self, n: int) -> list[Complaint]:
        """n complaints that each open a ticket of their own, from n different bound residents."""
        taken = []
        while len(taken) < n:
            c = self.pool.pop(0)
            if c.openid not in self._used:  # one ticket per resident per test: notices are counted per resident
                self._used.add(c.openid)
                taken.append(c)
        return taken

    # -- WeChat's side of intake, with its retries ---------------------------------------------------------------

    def post(self, query: str, body: bytes, timeout: float = WECHAT_SECONDS) -> tuple[str, float, int | None, str]:
        """One delivery of a callback: (outcome, seconds, ticket, reply text); outcome "ok", "bad-200", "http-503",
        "error-TimeoutError", ..."""
        started = time.monotonic()
        req = urllib.request.Request(f"{self.web_url}/wechat?{query}", data=body, headers={"Content-Type": "text/xml"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as error:
            return f"http-{error.code}", time.monotonic() - started, None, ""
        except (urllib.error.URLError, OSError) as error:
            return f"error-{type(error).__name__}", time.monotonic() - started, None, ""
        seconds = time.monotonic() - started
        content = self.oa.open_reply(text).get("Content", "")
        found = TICKET_NUMBER.search(content)
        return ("ok" if found else "bad-200"), seconds, int(found.group(1)) if found else None, content

    def deliver(self, complaint: Complaint, due: float, give_up: float = 90) -> Delivery:
        """Send at `due` (monotonic) and, like WeChat, again (same body, same MsgId) until answered with a ticket;
        then once more, as WeChat does when an answer came too late, which must get the very same reply."""
        fields = self.oa.text(complaint.openid, complaint.text)
        query, body = self.oa.signed(fields)
        time.sleep(max(0.0, due - time.monotonic()))
        delivery = Delivery(complaint, str(fields["MsgId"]))
        deadline = time.monotonic() + give_up
        while True:
            outcome, seconds, ticket, reply = self.post(query, body)
            delivery.tries.append((outcome, seconds))
            if ticket is not None:
                delivery.ticket, delivery.reply = ticket, reply
                break
            if outcome == "bad-200" or time.monotonic() > deadline:
                return delivery
            time.sleep(0.5)
        for _ in range(20):
            outcome, _, _, delivery.repeat_reply = self.post(query, body)
            if outcome in ("ok", "bad-200"):
                break
            time.sleep(0.5)
        return delivery

    def load(self, batch: list[Complaint], seconds: float, during: Callable[[], None] | None = None) -> list[Delivery]:
        """Open loop: message k is due at start + k * seconds / n; `during` runs meanwhile, halfway through."""
        start = time.monotonic() + 0.2
        with ThreadPoolExecutor(max_workers=24) as pool:
            futures = [pool.submit(self.deliver, c, start + k * seconds / len(batch)) for k, c in enumerate(batch)]
            if during is not None:
                time.sleep(max(0.0, start + seconds / 2 - time.monotonic()))
                during()
            return [f.result() for f in futures]

    # -- counting ------------------------------------------------------------------------------------------------

    def tickets_by_msg_id(self, msg_ids: list[str]) -> dict[str, list[int]]:
        with Session(self.engine) as session:
            rows = session.exec(select(Ticket.source_msg_id, Ticket.id).where(col(Ticket.source_msg_id).in_(msg_ids)))
            found: dict[str, list[int]] = {m: [] for m in msg_ids}
            for msg_id, ticket_id in rows:
                found[msg_id].append(int(ticket_id or 0))
        return found

    def ticket_count(self) -> int:
        with Session(self.engine) as session:
            return int(session.exec(select(func.count()).select_from(Ticket)).one())

    def all_sent(self, kind: str, expected: int) -> bool:
        with Session(self.engine) as session:
            statuses = session.exec(select(Outbox.status).where(Outbox.kind == kind)).all()
        return len(statuses) >= expected and all(s == OutboxStatus.SENT for s in statuses)

    def all_cards(self) -> Counter[int | None]:
        """ticket -> how many cards for it reached any chat (aibot_send_msg), over every chat."""
        return Counter(ticket for chat in CHATS for ticket, _ in self.card_sends(chat))

    def card_chats(self) -> dict[int | None, set[str]]:
        found: dict[int | None, set[str]] = {}
        for chat in CHATS:
            for ticket, _ in self.card_sends(chat):
                found.setdefault(ticket, set()).add(chat)
        return found

    def assert_exactly_once(self, deliveries: list[Delivery]) -> None:
        """Every MsgId has one ticket, named in its reply; every ticket's card reached its grid's chat once."""
        bad = [d for d in deliveries if any(o == "bad-200" for o, _ in d.tries)]
        assert not bad, f"200 without a ticket: {bad}"
        unanswered = [d for d in deliveries if d.ticket is None]
        assert not unanswered, f"never accepted: {unanswered}\n{self.procs.report()}"
        repeats = [d for d in deliveries if d.repeat_reply != d.reply]
        assert not repeats, f"a repeated delivery was not answered with the first reply: {repeats[:3]}"
        by_msg = self.tickets_by_msg_id([d.msg_id for d in deliveries])
        assert {m: len(t) for m, t in by_msg.items() if len(t) != 1} == {}, "MsgIds without exactly one ticket"
        assert {d.msg_id: [d.ticket] for d in deliveries} == by_msg, "a reply named another ticket than the row's"

        self.assert_cards(deliveries)

    def assert_cards(self, deliveries: list[Delivery]) -> None:
        """Every ticket's card reached its grid's chat, once, and its row is marked sent.

        A push whose ack was lost is sent again with the same task_id, which the stand-in refuses as Tencent does
        (42014); a gateway that gave each attempt a new task_id would show the card twice here, and one that took
        the refusal for a failure would leave its row failed."""
        numbers = [d.ticket for d in deliveries]
        self.wait_for(lambda: self.all_sent("group_push", len(numbers)), 60, "every card row marked sent")
        time.sleep(1.5)  # a repeat would come with the gateway's next poll (0.5 s)
        cards = self.all_cards()
        assert sorted(cards, key=str) == sorted(numbers, key=str), "cards missing (or for unknown tickets)"
        chats = self.card_chats()
        assert {d.ticket: {d.complaint.chat_id} for d in deliveries} == chats, "a card in a wrong chat"
        repeated = {t: n for t, n in cards.items() if n != 1}
        assert repeated == {}, "cards pushed more than once"
        print(f"repeats refused by the stand-in (an ack had been lost): {self.aibot.repeats_refused}")

    # -- resident notices -----------------------------------------------------------------------------------------

    def accept(self, deliveries: list[Delivery]) -> None:
        """Each ticket's grid worker taps 接单 on its card: one resident notice per ticket (an rq job)."""
        workers = {c.chat_id: c.worker for c in self.sim.sim.directory.chats}
        for d in deliveries:
            assert d.ticket is not None
            self.click(d.complaint.chat_id, workers[d.complaint.chat_id], "accept", d.ticket)

    def assert_notices_once(self, deliveries: list[Delivery], timeout: float = 60) -> None:
        """Every accepted ticket's resident got its 接单 notice exactly once, and nobody got anything else."""
        self.wait_for(lambda: self.all_sent("resident_notice", len(deliveries)), timeout, "every notice row sent")
        time.sleep(1.5)  # room for a repeat (the cron sweeps every second)
        sent = self.wechat_api.sent()
        per_resident = Counter(r["openid"] for r in sent)
        assert per_resident == Counter(d.complaint.openid for d in deliveries), "notices missing or repeated"
        for d in deliveries:
            (text,) = [server.notice_text(r["body"]) for r in sent if r["openid"] == d.complaint.openid]
            assert str(d.ticket) in text and "接单" in text, text

    # -- Restart=always ------------------------------------------------------------------------------------------

    def supervise(self) -> None:
        """Restart the worker, cron and gateway when they exit, as systemd's Restart=always does (docs/deploy.md);
        gunicorn is left alone, so a test sees whether the app recovers by itself."""
        self._supervising.set()

        def loop() -> None:
            while self._supervising.is_set():
                for process in list(self.procs.started):
                    if process.name in ("worker", "cron", "gateway") and not process.alive():
                        if getattr(process, "replaced", False):
                            continue
                        process.replaced = True  # type: ignore[attr-defined]
                        self.restarts[process.name] += 1
                        self.procs.start(process.name, *process.popen.args[1:], env=process.env)  # type: ignore[index]
                time.sleep(0.3)

        threading.Thread(target=loop, daemon=True, name="restart-always").start()

    def stop_supervising(self) -> None:
        self._supervising.clear()

    def web(self) -> Process:
        return next(p for p in self.procs.started if p.name == "web")


@dataclass
class Delivery:
    complaint: Complaint
    msg_id: str
    tries: list[tuple[str, float]] = field(default_factory=list)
    ticket: int | None = None
    reply: str = ""
    repeat_reply: str = ""  # the answer to the same delivery sent once more after it was accepted


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _import_residents(procs: Processes, places: list[Building], path: Path) -> None:
    procs.run("-m", "flask", "--app", "app", "import-people", str(write_residents(residents(places), path)))


@pytest.fixture
def faulty(private_postgres: PrivatePostgres, private_redis: PrivateRedis, tmp_path: Path) -> Iterator[Faulty]:
    """A fresh database on the private cluster with the demo community and 10 bound residents per building, the
    simulator in-process, gunicorn (2 workers), one rq worker, the cron (sweeping every second) and the gateway."""
    database_url = private_postgres.createdb()
    engine = make_engine(database_url)
    migrate(engine)
    appid = f"wx-faults-{uuid.uuid4().hex[:10]}"
    settings = Settings(
        database_url=database_url,
        redis_url=private_redis.url,
        var_dir=tmp_path,
        recording_path=tmp_path / "deliveries.jsonl",
        queue_name=f"faults-{uuid.uuid4().hex[:8]}",
        wechat_appid=appid,
    )
    bot_id = f"faults-bot-{uuid.uuid4().hex[:8]}"
    web_url = f"http://127.0.0.1:{free_port()}"
    demo = demo_with_street_bot(tmp_path, f"faults-s02-{uuid.uuid4().hex[:8]}")
    sim = server.start(web_url, settings=settings, bot_id=bot_id, bot_secret="faults-secret", demo_dir=demo)
    env = service_env(
        settings, sim, tmp_path, bot_id, "faults-secret", WGT_OUTBOX_GRACE_SECONDS="2", WGT_OUTBOX_SWEEP_SECONDS="1"
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = Processes(env, logs)
    redis = Redis.from_url(private_redis.url)
    oa = OfficialAccount(settings.wechat_token, settings.wechat_aes_key, appid)
    places = buildings()
    stack = Faulty(
        sim, procs, settings, web_url, engine, redis, pg=private_postgres, private_redis=private_redis, oa=oa
    )
    stack.pool = complaints(places, residents(places), seed=7)
    try:
        procs.run("-m", "flask", "--app", "app", "seed-demo", "--from", str(demo))
        _import_residents(procs, places, tmp_path / "residents.csv")
        before = stack.aibot.authentications
        web, worker, gateway = stack.spawn_web(), stack.spawn_worker(), stack.spawn_gateway()
        stack.spawn_street_gateways()
        procs.start("cron", "worker.py", "cron")
        stack.await_web(web)
        stack.await_worker(worker)
        stack.await_gateway(gateway, before)
        yield stack
    finally:
        stack.stop_supervising()
        time.sleep(0.35)
        procs.stop_all()
        sim.sim.wechat_api.reset()
        sim.stop()
        engine.dispose()
        redis.close()
