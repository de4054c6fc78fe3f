"""End to end through real processes on loopback: gunicorn, an rq worker and the AI-bot gateway, as `make run`
starts them, against the simulator (Tencent's stand-ins) running in this process so the test can read what
reached WeChat and the grid chats, and kill processes mid-way.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from rq import Queue, Worker
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.cards import ticket_of
from config import Settings
from simulator import server
from storage.db import make_engine
from storage.models import Outbox, OutboxStatus, utcnow
from tests.processes import ROOT, Process, Processes, free_port

pytestmark = pytest.mark.slow

G01, G02 = "wrk-chat-g01", "wrk-chat-g02"
RESIDENT, SUPERVISOR = "o-demo-resident-1", "o-demo-supervisor"
TICKET_NUMBER = re.compile(r"工单号\s*(\d+)")
# Complaints with the place in the text, so each lands in a known grid whoever sends it.
IN_G01 = ("幸福小区3栋楼道灯坏了好几天了", "幸福小区南门的路灯不亮了")
IN_G02 = ("幸福小区6栋电梯坏了，困了人出不来", "幸福小区北门垃圾堆了三天没人清理")


def call(url: str, body: dict[str, Any] | None = None) -> Any:
    """GET (or POST JSON) on loopback; the decoded JSON, or AssertionError on an HTTP error."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        raise AssertionError(f"{url}: HTTP {error.code} {error.read()[:300]!r}") from error


@dataclass
class Stack:
    """The running service and Tencent's stand-ins, with what a test does and reads."""

    sim: server.Running
    procs: Processes
    settings: Settings
    web_url: str
    engine: Engine
    redis: Redis

    # -- processes --------------------------------------------------------------------------------------------

    def spawn_web(self) -> Process:
        port = self.web_url.rsplit(":", 1)[1]
        return self.procs.start(
            "web", "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}", "app:create_app()"
        )

    def spawn_worker(self) -> Process:
        return self.procs.start("worker", "worker.py")

    def spawn_gateway(self) -> Process:
        """The default bot's gateway."""
        return self.procs.start("gateway", "-m", "bot.gateway")

    def spawn_street_gateways(self) -> list[Process]:
        """A gateway for each bot a street runs (和平街道's in the demo), as `make run` starts them."""
        return [
            self.procs.start(
                "gateway", "-m", "bot.gateway", env={"WECOM_BOT_ID": bot, "WECOM_BOT_SECRET": server.bot_secret_of(bot)}
            )
            for bot in self.sim.sim.directory.bots()
        ]

    def await_web(self, web: Process) -> Process:
        self.procs.wait_for(lambda: self._healthy() or not web.alive(), 30, "gunicorn to answer /healthz")
        assert web.alive(), self.procs.report()
        return web

    def await_worker(self, worker: Process) -> Process:
        queue = Queue(self.settings.queue_name, connection=self.redis)
        self.procs.wait_for(
            lambda: any(w.pid == worker.pid for w in Worker.all(queue=queue)) or not worker.alive(),
            30,
            "the rq worker to register",
        )
        assert worker.alive(), self.procs.report()
        return worker

    def await_gateway(self, gateway: Process, connections_before: int, timeout: float = 30) -> Process:
        """Until the gateway has connected, and every other bot's is connected too."""
        self.procs.wait_for(
            lambda: (
                (
                    self.aibot.authentications > connections_before
                    and all(self.aibot.is_connected(bot) for bot in self.aibot.bots)
                )
                or not gateway.alive()
            ),
            timeout,
            "the gateway to connect",
        )
        assert gateway.alive(), self.procs.report()
        return gateway

    def start_worker(self) -> Process:
        return self.await_worker(self.spawn_worker())

    def start_gateway(self, timeout: float = 30) -> Process:
        before = self.aibot.authentications
        return self.await_gateway(self.spawn_gateway(), before, timeout)

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.web_url}/healthz", timeout=1) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def wait_for(self, check: Any, timeout: float, what: str) -> Any:
        return self.procs.wait_for(check, timeout, what)

    # -- people -----------------------------------------------------------------------------------------------

    def say(self, openid: str, text: str) -> str:
        """A message to the Official Account through the simulator; the passive reply."""
        answer = call(f"{self.sim.url}/sim/oa/say", {"openid": openid, "text": text})
        assert not answer["error"], f"{answer['error']}\n{self.procs.report()}"
        return str(answer["reply"])

    def complain(self, text: str, openid: str = RESIDENT) -> int:
        reply = self.say(openid, text)
        found = TICKET_NUMBER.search(reply)
        assert found, f"no ticket number in {reply!r}"
        return int(found.group(1))

    def click(self, chat: str, userid: str, action: str, number: int) -> None:
        """Tap a button on the ticket's newest card in the chat."""
        (task_id, _), *_ = reversed(self.card_tasks(chat, number))
        body = {"chat_id": chat, "userid": userid, "event_key": f"{action}:{number}", "task_id": task_id}
        call(f"{self.sim.url}/sim/chat/click", body)

    def group_say(self, chat: str, userid: str, text: str) -> None:
        call(f"{self.sim.url}/sim/chat/say", {"chat_id": chat, "userid": userid, "text": text})

    # -- what Tencent saw -------------------------------------------------------------------------------------

    @property
    def aibot(self) -> Any:
        return self.sim.sim.aibot

    @property
    def wechat_api(self) -> Any:
        return self.sim.sim.wechat_api

    def card_sends(self, chat: str) -> list[tuple[int | None, float]]:
        """(ticket, arrival time) of every card pushed into the chat (aibot_send_msg), in arrival order."""
        return [(ticket_of(task), at) for task, at in self.card_tasks(chat)]

    def card_tasks(self, chat: str, number: int | None = None) -> list[tuple[str, float]]:
        """(task_id, arrival time) of every card pushed into the chat, or of the ticket's cards, in arrival order."""
        return [
            (m["body"]["template_card"]["task_id"], m["time"])
            for m in self.aibot.messages(chat)
            if m["kind"] == "send"
            and m["body"].get("msgtype") == "template_card"
            and (number is None or ticket_of(m["body"]["template_card"]["task_id"]) == number)
        ]

    def card_view(self, chat: str, number: int) -> dict[str, Any] | None:
        """The ticket's (newest) card as the group pane draws it now."""
        found = None
        for entry in call(f"{self.sim.url}/sim/chat?chat_id={chat}")["entries"]:
            if ticket_of(entry.get("card", {}).get("task_id", "")) == number:
                found = dict(entry["card"])
        return found

    def bot_said(self, chat: str, fragment: str) -> bool:
        entries = call(f"{self.sim.url}/sim/chat?chat_id={chat}")["entries"]
        return any(e["who"] == "bot" and fragment in e.get("text", "") for e in entries)

    def notices(self, openid: str) -> list[str]:
        """What the WeChat API stand-in delivered to the resident (customer-service or template), in order."""
        return [server.notice_text(r["body"]) for r in self.wechat_api.sent(openid)]

    def timeline_notices(self, openid: str) -> list[str]:
        """The notices in the resident's chat pane."""
        entries = call(f"{self.sim.url}/sim/oa?openid={openid}")["entries"]
        return [e["text"] for e in entries if e["who"] == "notice"]

    def outbox(self, kind: str) -> list[Outbox]:
        with Session(self.engine) as session:
            return list(session.exec(select(Outbox).where(Outbox.kind == kind).order_by(col(Outbox.id))).all())


def demo_with_street_bot(tmp_path: Path, bot: str) -> Path:
    """demo/ with 和平街道 running `bot`: a fresh bot per test keeps its Redis keys (lock, pacing) from other tests'."""
    copy = tmp_path / "demo"
    copy.mkdir()
    for source in (ROOT / "demo").glob("*.csv"):
        (copy / source.name).write_text(
            source.read_text(encoding="utf-8").replace("sim-bot-s02", bot), encoding="utf-8"
        )
    return copy


def service_env(
    settings: Settings, sim: server.Running, var_dir: Path, bot_id: str, bot_secret: str, **extra: str
) -> dict[str, str]:
    """The environment `make run` gives its processes, pointed at this test's database, Redis and simulator."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WGT_", "WECHAT_", "WECOM_"))}
    return env | {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "WGT_VAR_DIR": str(var_dir),
        "WGT_RECORDING_PATH": str(var_dir / "deliveries.jsonl"),
        "WGT_QUEUE": settings.queue_name,
        "WGT_DELIVERY": "live",
        # These tests count notices; a 日报 falling due because CI runs after 18:00 must not add one.
        "WGT_DAILY_REPORT_AT": "",
        "WECHAT_APPID": settings.wechat_appid,
        "WECHAT_API_BASE": f"{sim.url}/cgi-bin/",
        "WECHAT_NOTICE_TEMPLATE_ID": "t1",
        "WECOM_BOT_ID": bot_id,
        "WECOM_BOT_SECRET": bot_secret,
        "WECOM_WS_URL": sim.ws_url,
        "WECOM_SUPERVISOR_CHAT_ID": server.SUPERVISOR_CHAT_ID,
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


@pytest.fixture
def stack(settings: Settings, tmp_path: Path) -> Iterator[Stack]:
    """The demo community loaded through the admin CLI, the simulator in-process, and the environment `make run`
    gives its processes; a test starts the processes it needs. Everything is killed at the end, pass or fail."""
    # A fresh appid and bot per test keep Redis keys (token, notice claims, the gateway lock) apart from other tests'.
    settings = replace(settings, wechat_appid=f"wx-e2e-{uuid.uuid4().hex[:10]}")
    bot_id = f"e2e-bot-{uuid.uuid4().hex[:8]}"
    web_url = f"http://127.0.0.1:{free_port()}"
    demo = demo_with_street_bot(tmp_path, f"e2e-s02-{uuid.uuid4().hex[:8]}")
    sim = server.start(web_url, settings=settings, bot_id=bot_id, bot_secret="e2e-secret", demo_dir=demo)
    env = service_env(settings, sim, tmp_path, bot_id, "e2e-secret")
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = Processes(env, logs)
    engine = make_engine(settings.database_url)
    redis = Redis.from_url(settings.redis_url)
    try:
        procs.run("-m", "flask", "--app", "app", "seed-demo", "--from", str(demo))
        yield Stack(sim, procs, settings, web_url, engine, redis)
    finally:
        procs.stop_all()
        sim.sim.wechat_api.reset()  # let go of requests a test held with `slow`
        sim.stop()
        engine.dispose()
        redis.close()


@pytest.fixture
def running(stack: Stack) -> Stack:
    """Web, one rq worker and the gateway, all up (started together: each takes a second or two to import)."""
    before = stack.aibot.authentications
    web, worker, gateway = stack.spawn_web(), stack.spawn_worker(), stack.spawn_gateway()
    stack.spawn_street_gateways()
    stack.await_web(web)
    stack.await_worker(worker)
    stack.await_gateway(gateway, before)
    return stack


def test_the_loop_complaint_card_accept_resolve_rating_statistics(running: Stack) -> None:
    s = running
    asked = time.time()
    number = s.complain(IN_G01[0])

    ((ticket, arrived),) = s.wait_for(lambda: s.card_sends(G01), 5, "the card in wrk-chat-g01")
    assert ticket == number
    print(f"card in the group {arrived - asked:.2f} s after the resident wrote")
    assert arrived - asked < 2.0

    s.click(G01, "zhangwei", "accept", number)
    card = s.wait_for(
        lambda: (c := s.card_view(G01, number)) and c["buttons"][0]["key"].startswith("resolve") and c,
        5,
        "the card to show 接单",
    )
    assert "张伟 已接单" in card["note"]
    s.wait_for(
        lambda: any(f"工单 {number}）已由张网格员接单" in t for t in s.timeline_notices(RESIDENT)),
        10,
        "the 接单 notice in the resident's chat",
    )

    s.group_say(G01, "zhangwei", f"@网格通 办结 {number} 已更换楼道灯泡")
    s.wait_for(lambda: s.bot_said(G01, f"工单 {number} 已办结"), 5, "the bot's answer to 办结")
    (resolved,) = s.wait_for(
        lambda: [t for t in s.timeline_notices(RESIDENT) if f"工单 {number} 已办结" in t],
        10,
        "the 办结 notice in the resident's chat",
    )
    assert "已更换楼道灯泡" in resolved and f"评价 {number} 满意" in resolved

    assert s.say(RESIDENT, f"评价 {number} 满意")
    numbers = s.say(SUPERVISOR, "统计")
    assert "已办结 1" in numbers and "5.0分" in numbers, numbers
    assert s.card_sends(G01) == [(ticket, arrived)]  # one card, updated in place, never pushed again
    assert len(s.notices(RESIDENT)) == 2  # 接单, 办结: each once


def test_a_killed_gateway_loses_no_card_and_repeats_none(running: Stack) -> None:
    s = running
    gateway = next(p for p in s.procs.started if p.name == "gateway")
    gateway.kill9()
    s.wait_for(lambda: not s.aibot.connected, 5, "the stand-in to see the connection gone")

    numbers = [s.complain(IN_G01[0]), s.complain(IN_G02[0]), s.complain(IN_G01[1])]
    pushes = s.outbox("group_push")
    assert [(r.ticket_id, r.status) for r in pushes] == [(n, OutboxStatus.PENDING) for n in numbers]

    restarted = time.monotonic()
    s.start_gateway(timeout=40)  # it waits out the dead gateway's Redis lock (15 s TTL) before connecting
    s.wait_for(lambda: all(r.status == OutboxStatus.SENT for r in s.outbox("group_push")), 15, "every row marked sent")
    print(f"new gateway online and all cards sent {time.monotonic() - restarted:.1f} s after its start")
    time.sleep(1.0)  # a repeat would come from the next poll (0.5 s)

    assert [t for t, _ in s.card_sends(G01)] == [numbers[0], numbers[2]]
    assert [t for t, _ in s.card_sends(G02)] == [numbers[1]]


def test_45009_holds_each_chat_in_order_and_delivers_every_card_once(running: Stack) -> None:
    s = running
    window = 5.0  # the issue says a minute; the gateway's backoff (2 s, 4 s, ...) makes this the same property
    refused_until = time.time() + window
    call(f"{s.sim.url}/sim/inject", {"target": "aibot", "action": "fail_sends", "errcode": 45009, "seconds": window})

    numbers = [s.complain(text) for text in (IN_G01[0], IN_G02[0], IN_G01[1], IN_G02[1])]

    s.wait_for(lambda: all(r.status == OutboxStatus.SENT for r in s.outbox("group_push")), 30, "every card after 45009")
    time.sleep(1.0)  # room for a repeat to show
    g01, g02 = s.card_sends(G01), s.card_sends(G02)
    assert [t for t, _ in g01] == [numbers[0], numbers[2]]
    assert [t for t, _ in g02] == [numbers[1], numbers[3]]
    assert min(at for _, at in g01 + g02) >= refused_until
    attempts = {r.ticket_id: r.attempts for r in s.outbox("group_push")}
    # Each chat's head was refused (and retried); what queued behind it waited instead of trying its luck.
    assert attempts[numbers[0]] >= 2 and attempts[numbers[1]] >= 2, attempts
    print(f"cards arrived {max(at for _, at in g01 + g02) - refused_until:.1f} s after the 45009 window; {attempts}")


def test_a_killed_worker_sends_every_resident_notice_once(running: Stack) -> None:
    s = running
    number = s.complain(IN_G01[0])
    s.wait_for(lambda: s.card_sends(G01), 5, "the card")
    worker = next(p for p in s.procs.started if p.name == "worker")

    # 1. Killed while idle: the jobs wait in Redis for the next worker.
    worker.kill9()
    s.click(G01, "zhangwei", "accept", number)
    s.group_say(G01, "zhangwei", f"进展 {number} 已联系物业电工")
    s.wait_for(lambda: len(s.outbox("resident_notice")) == 2, 5, "two resident notices queued")
    assert s.notices(RESIDENT) == []
    worker = s.start_worker()
    s.wait_for(lambda: len(s.notices(RESIDENT)) == 2, 10, "both notices after the new worker started")

    # 2. Killed mid-send: Tencent holds the request; the worker (and its work horse) die before the answer.
    arrived: list[str] = []
    receive = s.wechat_api.receive

    def counting(path: str, body: Any, handle: Any) -> Any:
        if path.endswith("/send"):
            arrived.append(path)
        return receive(path, body, handle)

    s.wechat_api.receive = counting
    s.wechat_api.slow(30, "/send")
    s.group_say(G01, "zhangwei", f"进展 {number} 电工明天上午来")
    s.wait_for(lambda: arrived, 10, "the notice to reach the WeChat API stand-in")
    s.group_say(G01, "zhangwei", f"进展 {number} 灯泡已经买好")
    s.wait_for(lambda: len(s.outbox("resident_notice")) == 4, 5, "the second notice queued")
    horses = worker.kill9()
    assert horses, "the worker had no work horse: nothing was being sent"
    s.wechat_api.reset()  # Tencent answers, but nobody reads the answer; the resident got the message
    held = s.outbox("resident_notice")[2]
    assert held.status == OutboxStatus.PENDING and held.locked_until is not None

    s.start_worker()
    s.wait_for(lambda: s.outbox("resident_notice")[3].status == OutboxStatus.SENT, 10, "the queued notice sent")

    # The dead worker's lease (bot.jobs.LEASE_SECONDS = 60) has not run out yet: end it now instead of waiting a
    # minute, then run the real sweep with no grace period.
    with Session(s.engine) as session:
        session.execute(
            update(Outbox).where(col(Outbox.id) == held.id).values(locked_until=utcnow() - timedelta(seconds=1))
        )
        session.commit()
    sweep_now = {"WGT_OUTBOX_GRACE_SECONDS": "0"}
    assert "re-enqueued 1" in s.procs.run("-m", "flask", "--app", "app", "sweep", env=sweep_now)
    retried = s.wait_for(
        lambda: (row := s.outbox("resident_notice")[2]).last_error and row, 10, "the new worker to try the held row"
    )
    # Its claim in Redis says another attempt began under 2 minutes ago: it waits (and later gives up), never resends.
    assert retried.attempts == 2 and "under way" in retried.last_error, retried

    notices = s.wait_for(lambda: (n := s.notices(RESIDENT)) and len(n) >= 4 and n, 5, "the held notice delivered")
    expected = ["已由张网格员接单", "已联系物业电工", "电工明天上午来", "灯泡已经买好"]
    assert [sum(fragment in n for n in notices) for fragment in expected] == [1, 1, 1, 1], notices
    assert len(notices) == 4
    assert Counter(r.status for r in s.outbox("resident_notice")) == {"sent": 3, "pending": 1}
