"""Redis refusing, hanging and restarting: a complaint is still taken within WeChat's 5 s, /healthz keeps the node
in the load balancer while the database answers, and the AI-bot gateway rides out a restart.

Every Redis here is real: a port nothing listens on, a redis-server of the test's own stopped with SIGSTOP (it
accepts connections and never answers), a socket that accepts and never answers, a redis-server killed and started
again empty.
"""

from __future__ import annotations

import shutil
import signal
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from redis import Redis
from sqlmodel import select

from bot import ops
from bot.botlock import lock_key
from bot.channels import GATEWAY_WAKE_CHANNEL
from bot.gateway import Gateway
from bot.runtime import Runtime
from config import Settings
from simulator.aibot import AIBotServer
from simulator.officialaccount import OfficialAccount
from storage.models import Outbox, OutboxStatus, Ticket
from tests.bot.test_gateway import G01, Running, card_tickets
from tests.faults.conftest import PrivateRedis
from tests.processes import free_port

# WeChat drops a callback after 5 s; nginx gives up at 4 s (docs/deploy.md). A callback must answer well inside.
BUDGET = 2.0


def private_redis_server(directory: Path) -> PrivateRedis:
    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server on PATH")
    directory.mkdir(parents=True, exist_ok=True)
    return PrivateRedis(free_port(), directory)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A redis-server of this test's own (restarting it touches nothing else); not started yet."""
    server = private_redis_server(tmp_path / "redis")
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.process.send_signal(signal.SIGCONT)
        server.stop()


@pytest.fixture(params=["stopped redis-server", "silent socket"])
def hung_redis_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A Redis that takes connections (the kernel's backlog does) and never answers a command."""
    if request.param == "stopped redis-server":
        server = private_redis_server(tmp_path / "hung-redis")
        server.start()
        assert server.process is not None
        server.process.send_signal(signal.SIGSTOP)
        try:
            yield server.url
        finally:
            server.process.send_signal(signal.SIGCONT)
            server.stop()
    else:
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(64)
            yield f"redis://127.0.0.1:{silent.getsockname()[1]}/0"


def complain(app: Flask, oa: OfficialAccount, openid: str, text: str) -> tuple[float, int, str]:
    """One signed complaint through /wechat: (seconds to answer, status, the reply's text)."""
    query, body = oa.signed(oa.text(openid, text))
    started = time.monotonic()
    response = app.test_client().post(f"/wechat?{query}", data=body, content_type="text/xml")
    elapsed = time.monotonic() - started
    raw = response.get_data(as_text=True)
    return elapsed, response.status_code, oa.open_reply(raw).get("Content", "") if response.status_code == 200 else raw


def health(app: Flask) -> tuple[float, int, dict[str, Any]]:
    started = time.monotonic()
    response = app.test_client().get("/healthz")
    return time.monotonic() - started, response.status_code, response.get_json()


# ---- intake and /healthz ---------------------------------------------------------------------------------------------


def test_while_redis_refuses_a_complaint_is_taken_at_once_and_the_node_stays_in_the_load_balancer(
    make_app: Callable[..., Flask], oa: OfficialAccount, demo: None, session: Any
) -> None:
    app = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    elapsed, status, reply = complain(app, oa, "o-demo-resident-1", "3号楼楼道灯坏了")
    assert status == 200 and elapsed < 1.0, (elapsed, reply)
    (ticket,) = session.exec(select(Ticket)).all()
    assert f"工单号 {ticket.id}" in reply
    rows = session.exec(select(Outbox).where(Outbox.ticket_id == ticket.id)).all()
    assert rows and all(row.status == OutboxStatus.PENDING for row in rows)  # the sweep enqueues them later

    # This node takes complaints: a 503 would have the load balancer drop it, and every other node with it.
    elapsed, status, body = health(app)
    assert elapsed < 1.0
    assert (status, body["status"]) == (200, "degraded")
    assert body["checks"]["database"]["ok"] is True
    redis = body["checks"]["redis"]
    assert redis["ok"] is False and redis["notices"] == "delayed"
    assert "投诉照常受理" in redis["action"] and "通知暂缓" in redis["action"]


def test_a_complaint_is_taken_within_budget_while_redis_hangs_and_the_next_does_not_wait_for_it(
    make_app: Callable[..., Flask],
    oa: OfficialAccount,
    demo: None,
    session: Any,
    hung_redis_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = make_app(redis_url=hung_redis_url)
    first, status, reply = complain(app, oa, "o-demo-resident-1", "3号楼楼道灯坏了")
    assert status == 200 and first < BUDGET, (first, reply)
    assert "工单号" in reply

    # The first callback found out; for a while this process's requests leave Redis alone: the next one's Redis
    # calls are refused at once, none waits for a timeout. (Its time alone cannot show that on a busy CI machine: it
    # once took 0.62 s without asking Redis at all, where a wait would add REQUEST_TIMEOUT, 0.5 s.)
    caplog.clear()
    second, status, reply = complain(app, oa, "o-demo-resident-2", "2栋门口垃圾三天没人清运")
    assert status == 200 and second < BUDGET / 2, (second, reply)
    assert "工单号" in reply
    about_redis = [r.getMessage() for r in caplog.records if "redis" in r.getMessage().lower()]
    assert about_redis, "the complaint's Redis calls left no trace: the test proved nothing"
    assert all("RedisPaused" in m or "not asked" in m for m in about_redis), about_redis
    assert len(session.exec(select(Ticket)).all()) == 2


def test_healthz_keeps_the_node_in_while_redis_hangs(make_app: Callable[..., Flask], hung_redis_url: str) -> None:
    elapsed, status, body = health(make_app(redis_url=hung_redis_url))
    # One wait for Redis, never two: the rest of the check took up to 0.9 s on a loaded CI machine.
    assert elapsed < 2 * ops.REDIS_TIMEOUT
    assert (status, body["status"]) == (200, "degraded")
    assert body["checks"]["redis"]["ok"] is False and body["checks"]["redis"]["notices"] == "delayed"


def test_healthz_takes_the_node_out_when_the_database_is_gone_too(make_app: Callable[..., Flask]) -> None:
    app = make_app(
        database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/nothing",
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
    )
    _, status, body = health(app)
    assert (status, body["status"]) == (503, "down")
    assert body["checks"]["database"]["ok"] is False and body["checks"]["redis"]["ok"] is False


# ---- the AI-bot gateway --------------------------------------------------------------------------------------------


@pytest.fixture
def aibot() -> Iterator[AIBotServer]:
    with AIBotServer(f"bot-{uuid.uuid4().hex[:8]}", "bot-secret") as server:
        yield server


@pytest.fixture
def start_gateway(settings: Settings, aibot: AIBotServer) -> Iterator[Callable[[str], Running]]:
    """A gateway for the stand-in's bot on the given Redis, with short timings; stopped after the test."""
    started: list[Running] = []

    def start(redis_url: str) -> Running:
        gateway_settings = replace(
            settings,
            redis_url=redis_url,
            wecom_bot_id=aibot.bot_id,
            wecom_bot_secret=aibot.secret,
            wecom_ws_url=aibot.url,
        )
        gw = Gateway(Runtime(gateway_settings), poll_seconds=0.1, reconnect_ms=100, lock_ttl_ms=3000)
        started.append(Running(gw))
        return started[-1]

    yield start
    for running in started:
        running.stop()
        running.gateway.rt.engine.dispose()


def wake_listeners(redis: Redis) -> int:
    ((_, listeners),) = redis.pubsub_numsub(GATEWAY_WAKE_CHANNEL)
    return int(listeners)


def test_the_gateway_rides_out_a_redis_restart_and_takes_its_vanished_lock_back(
    start_gateway: Callable[[str], Running],
    private_redis: PrivateRedis,
    aibot: AIBotServer,
    resident: Any,
    session: Any,
) -> None:
    private_redis.start()
    redis = Redis.from_url(private_redis.url)
    try:
        running = start_gateway(private_redis.url)
        token = running.gateway.lock.token.encode()
        key = lock_key(aibot.bot_id)
        beat = ops.heartbeat_key(aibot.bot_id)
        aibot.wait_for(lambda: running.gateway.state == "online" and redis.get(key) == token and redis.get(beat))

        private_redis.flush_and_restart(down=1.0)  # FLUSHALL, kill -9, start empty: the lock and heartbeat are gone
        aibot.wait_for(lambda: redis.get(key) == token, timeout=10)
        aibot.wait_for(lambda: redis.get(beat) is not None, timeout=5)  # at once, not at the next 10 s beat
        aibot.wait_for(lambda: wake_listeners(redis) == 1, timeout=10)  # subscribed again

        assert not running.finished and running.gateway.fatal == ""
        assert running.gateway.state == "online" and aibot.authentications == 1  # the WebSocket never dropped
        resident.say("3号楼楼道灯坏了")
        (number,) = [t.id for t in session.exec(select(Ticket)).all()]
        aibot.wait_for(lambda: card_tickets(aibot, G01) == [number])

        # A lock another gateway holds is another matter: this one stops rather than fight over the bot.
        redis.set(key, "another-gateway", px=60_000)
        aibot.wait_for(lambda: running.finished, timeout=10)
        assert "lost the gateway lock" in running.gateway.fatal
    finally:
        redis.close()


def test_a_gateway_started_before_redis_waits_for_it_instead_of_exiting(
    start_gateway: Callable[[str], Running], private_redis: PrivateRedis, aibot: AIBotServer, demo: None
) -> None:
    running = start_gateway(private_redis.url)  # nothing listens there yet
    time.sleep(1.5)
    assert not running.finished and running.error is None
    assert running.gateway.state == "waiting" and aibot.authentications == 0

    private_redis.start()
    aibot.wait_for(lambda: running.gateway.state == "online", timeout=20)
    redis = Redis.from_url(private_redis.url)
    try:
        assert redis.get(lock_key(aibot.bot_id)) == running.gateway.lock.token.encode()
    finally:
        redis.close()
